"""Purchase history in the shape every recommender works on: cleaning it, weighing it by recency, telling its orders
apart, and the empty result frames.

A purchase history is a DataFrame with at least `customer_id, product_id, ordered_at` (and usually `quantity`),
as found in `marts.fct_order_lines` and as accepted by the pyfunc model (docs/contracts.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

HISTORY_COLUMNS: tuple[str, ...] = ("customer_id", "product_id", "quantity", "ordered_at")
RECOMMENDATION_COLUMNS: tuple[str, ...] = ("customer_id", "product_id", "rank", "score")
RELATED_COLUMNS: tuple[str, ...] = ("product_id", "related_product_id", "rank", "score")


def to_utc_naive(values: pd.Series) -> pd.Series:
    """Timestamps as timezone-naive UTC `datetime64[ns]` (tz-aware input is converted, naive input is kept)."""
    ts = pd.to_datetime(values, utc=True)
    return ts.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]")


def as_utc(value: pd.Timestamp | str) -> pd.Timestamp:
    """One instant as tz-aware UTC (a naive one is taken to be UTC, as every naive timestamp here is)."""
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def not_cancelled(lines: pd.DataFrame) -> pd.DataFrame:
    """Rows whose `is_cancelled` is not true (all rows when the column is absent; null counts as not cancelled)."""
    if "is_cancelled" not in lines.columns:
        return lines
    return lines.loc[~lines["is_cancelled"].astype("boolean").fillna(False).to_numpy(dtype=bool)]


def prepare_history(history: pd.DataFrame) -> pd.DataFrame:
    """Validate and clean a purchase history.

    Keeps rows with both a customer and a product (guest checkouts and custom lines carry no signal), casts ids to
    str, timestamps to naive UTC and quantity to int (missing quantity counts as 1).
    """
    missing = {"customer_id", "product_id", "ordered_at"} - set(history.columns)
    if missing:
        raise ValueError(
            f"purchase history lacks column(s) {sorted(missing)}; expected {list(HISTORY_COLUMNS)} "
            "(see docs/contracts.md, 'Recommender (MLflow)')"
        )
    df = history.loc[history["customer_id"].notna() & history["product_id"].notna()]
    quantity = df["quantity"] if "quantity" in df.columns else pd.Series(1, index=df.index)
    return pd.DataFrame(
        {
            "customer_id": df["customer_id"].astype(str).to_numpy(),
            "product_id": df["product_id"].astype(str).to_numpy(),
            "quantity": pd.to_numeric(quantity, errors="coerce").fillna(1).astype(np.int64).to_numpy(),
            "ordered_at": to_utc_naive(df["ordered_at"]).to_numpy(),
        }
    )


def basket_keys(lines: pd.DataFrame) -> np.ndarray:
    """One key per line identifying its order: `order_id`, else customer and timestamp (a line without either is
    its own basket)."""
    if "order_id" in lines.columns and lines["order_id"].notna().all():
        return lines["order_id"].astype(str).to_numpy()
    keys = lines["customer_id"].astype(str) + "@" + pd.to_datetime(lines["ordered_at"], utc=True).astype(str)
    alone = lines["customer_id"].isna().to_numpy()
    keys[alone] = "line:" + pd.Series(np.flatnonzero(alone), index=keys.index[alone]).astype(str)
    return keys.to_numpy()


def recency_weights(ordered_at: pd.Series, as_of: pd.Timestamp | pd.Series, half_life_days: float) -> np.ndarray:
    """Exponential decay: a purchase `half_life_days` before `as_of` weighs 0.5, a purchase at `as_of` weighs 1.

    `as_of` is one timestamp for all purchases, or one per purchase (a Series aligned with `ordered_at`).
    """
    age_days = (as_of - ordered_at).dt.total_seconds().to_numpy() / 86_400.0
    return np.power(0.5, np.clip(age_days, 0.0, None) / half_life_days)


def _empty_ranking(owner_column: str, item_column: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            owner_column: pd.Series([], dtype=object),
            item_column: pd.Series([], dtype=object),
            "rank": pd.Series([], dtype=np.int64),
            "score": pd.Series([], dtype=np.float64),
        }
    )


def empty_recommendations() -> pd.DataFrame:
    """No recommendations: the columns `RECOMMENDATION_COLUMNS` with their dtypes, no rows."""
    return _empty_ranking("customer_id", "product_id")


def empty_related() -> pd.DataFrame:
    """No related products: the columns `RELATED_COLUMNS` with their dtypes, no rows."""
    return _empty_ranking("product_id", "related_product_id")
