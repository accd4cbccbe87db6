"""Data drift of the order stream with Evidently 0.7: per-line features, current window vs the window before it.

Evidently is imported inside `run_drift_report` (importing it takes ~7.5 s), so importing this module is cheap.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from storeloop.recsys.interactions import not_cancelled

NUMERICAL_FEATURES: tuple[str, ...] = ("unit_price", "quantity", "line_revenue", "order_hour")
CATEGORICAL_FEATURES: tuple[str, ...] = ("product_type", "order_weekday")
FEATURES: tuple[str, ...] = NUMERICAL_FEATURES + CATEGORICAL_FEATURES
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    method: str  # Evidently's test, e.g. "Wasserstein distance (normed)" or "K-S p_value"
    threshold: float
    score: float  # a p-value (drift if below threshold) or a distance (drift if at or above)
    drifted: bool


@dataclass(frozen=True)
class DriftSummary:
    dataset_drift: bool  # share of drifted columns reached Evidently's drift_share
    drifted_columns: int
    share: float  # drifted_columns / number of columns compared
    columns: list[ColumnDrift]
    html_path: str
    json_path: str
    n_reference: int = 0
    n_current: int = 0
    drift_share_threshold: float = 0.5

    @property
    def drifted_column_names(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable (for XCom or logs)."""
        return asdict(self)


def line_features(order_lines: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """One row per order line: price, quantity, revenue, product type and when it was ordered (UTC hour, weekday)."""
    ordered_at = pd.to_datetime(order_lines["ordered_at"], utc=True)
    product_type = (
        order_lines["product_id"]
        .map(products.drop_duplicates("product_id").set_index("product_id")["product_type"])
        .astype(object)
    )
    product_type = product_type.where(product_type.notna() & (product_type.astype(str) != ""), "unknown")
    return pd.DataFrame(
        {
            "ordered_at": ordered_at,
            "unit_price": pd.to_numeric(order_lines["unit_price"], errors="coerce").astype("float64"),
            "quantity": pd.to_numeric(order_lines["quantity"], errors="coerce").astype("float64"),
            "line_revenue": pd.to_numeric(order_lines["line_revenue"], errors="coerce").astype("float64"),
            "order_hour": ordered_at.dt.hour.astype("int64"),
            "order_weekday": ordered_at.dt.dayofweek.map(dict(enumerate(_WEEKDAYS))).astype(object),
            "product_type": product_type.astype(str),
        },
        index=order_lines.index,
    )


def build_drift_frames(
    order_lines: pd.DataFrame,
    products: pd.DataFrame,
    current_days: int = 30,
    reference_days: int = 90,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(reference, current) feature frames.

    current = lines in the `current_days` up to the last `ordered_at`; reference = the `reference_days` before that.
    Cancelled lines (if the column is present) are left out. Frames hold the columns in `FEATURES`.
    """
    lines = not_cancelled(order_lines)
    if lines.empty:
        raise ValueError("no order lines to compare: is marts.fct_order_lines loaded?")
    features = line_features(lines, products)
    end = features["ordered_at"].max()
    current_start = end - pd.Timedelta(days=current_days)
    reference_start = current_start - pd.Timedelta(days=reference_days)
    current = features.loc[features["ordered_at"] > current_start, list(FEATURES)]
    reference = features.loc[
        (features["ordered_at"] > reference_start) & (features["ordered_at"] <= current_start), list(FEATURES)
    ]
    return reference.reset_index(drop=True), current.reset_index(drop=True)


def run_drift_report(
    reference: pd.DataFrame, current: pd.DataFrame, out_dir: str | Path, name: str = "drift_report"
) -> DriftSummary:
    """Evidently `DataDriftPreset` (with tests) on the two frames; saves `{name}.html` and `{name}.json`."""
    if reference.empty or current.empty:
        raise ValueError(
            f"drift needs rows in both windows (reference: {len(reference)}, current: {len(current)}); "
            "there may be too little order history yet"
        )
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    numerical = [c for c in NUMERICAL_FEATURES if c in current.columns]
    categorical = [c for c in CATEGORICAL_FEATURES if c in current.columns]
    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    columns = numerical + categorical
    snapshot = Report([DataDriftPreset()], include_tests=True).run(
        current_data=Dataset.from_pandas(current[columns], data_definition=definition),
        reference_data=Dataset.from_pandas(reference[columns], data_definition=definition),
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    html_path, json_path = out / f"{name}.html", out / f"{name}.json"
    snapshot.save_html(str(html_path))
    snapshot.save_json(str(json_path))
    return summarise_snapshot(
        snapshot.dict(),
        html_path=str(html_path),
        json_path=str(json_path),
        n_reference=len(reference),
        n_current=len(current),
    )


def summarise_snapshot(
    snapshot: dict[str, Any], *, html_path: str, json_path: str, n_reference: int, n_current: int
) -> DriftSummary:
    """Read the drift verdicts out of an Evidently 0.7 `Snapshot.dict()`.

    Per column the test status decides (FAIL = drifted); without tests, the method's rule does (p-values drift
    below the threshold, distances at or above it).
    """
    metrics = snapshot.get("metrics", [])
    test_status = {t.get("name", ""): t.get("status") for t in snapshot.get("tests", [])}
    count_metric = next((m for m in metrics if m["config"]["type"].endswith(":DriftedColumnsCount")), None)
    if count_metric is None:
        raise ValueError("the Evidently snapshot has no DriftedColumnsCount metric: was DataDriftPreset used?")
    drift_share = float(count_metric["config"].get("drift_share", 0.5))
    columns = []
    for metric in metrics:
        config = metric["config"]
        if not config["type"].endswith(":ValueDrift"):
            continue
        score, threshold, method = float(metric["value"]), float(config["threshold"]), str(config["method"])
        status = test_status.get(f"Value Drift for column {config['column']}")
        if status is not None:
            drifted = status == "FAIL"
        else:
            drifted = score < threshold if "p_value" in method else score >= threshold
        columns.append(ColumnDrift(config["column"], method, threshold, score, drifted))
    count = int(count_metric["value"]["count"])
    share = float(count_metric["value"]["share"])
    return DriftSummary(
        dataset_drift=share >= drift_share,
        drifted_columns=count,
        share=share,
        columns=columns,
        html_path=html_path,
        json_path=json_path,
        n_reference=n_reference,
        n_current=n_current,
        drift_share_threshold=drift_share,
    )
