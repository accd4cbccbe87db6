import json

import pandas as pd
import pytest

from sandbox.synthetic_order_lines import make_store
from storeloop.monitoring.alerts import render_drift_message
from storeloop.monitoring.drift import (
    FEATURES,
    ColumnDrift,
    DriftSummary,
    build_drift_frames,
    run_drift_report,
    summarise_snapshot,
)


def test_drift_frames_are_the_current_window_and_the_90_days_before():
    store = make_store(n_customers=300, n_products=40, days=200, seed=4)
    reference, current = build_drift_frames(store.order_lines, store.products, current_days=30)
    assert list(reference.columns) == list(FEATURES) == list(current.columns)
    ordered_at = pd.to_datetime(store.order_lines["ordered_at"], utc=True)
    end = ordered_at.max()
    assert len(current) == (ordered_at > end - pd.Timedelta(days=30)).sum()
    in_reference = (ordered_at > end - pd.Timedelta(days=120)) & (ordered_at <= end - pd.Timedelta(days=30))
    assert len(reference) == in_reference.sum()
    assert set(current["product_type"]) <= set(store.products["product_type"])
    assert current["order_hour"].between(0, 23).all()


def test_unknown_products_get_product_type_unknown():
    store = make_store(n_customers=50, n_products=10, days=60, seed=4)
    lines = store.order_lines.copy()
    lines.loc[lines.index[-1], "product_id"] = None
    _, current = build_drift_frames(lines, store.products)
    assert current["product_type"].iloc[-1] == "unknown"


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    out = tmp_path_factory.mktemp("drift")
    results = {}
    for label, shift_days in (("stable", 0), ("shifted", 30)):
        store = make_store(n_customers=1500, n_products=150, shift_days=shift_days, seed=8)
        reference, current = build_drift_frames(store.order_lines, store.products)
        results[label] = run_drift_report(reference, current, out / label)
    return results


def test_planted_shift_is_detected(reports):
    summary = reports["shifted"]
    assert summary.dataset_drift
    assert {"unit_price", "line_revenue", "product_type"} <= set(summary.drifted_column_names)
    assert "order_hour" not in summary.drifted_column_names
    assert summary.drifted_columns == len(summary.drifted_column_names)
    assert summary.share == pytest.approx(summary.drifted_columns / len(summary.columns))


def test_no_shift_means_no_dataset_drift(reports):
    summary = reports["stable"]
    assert not summary.dataset_drift
    assert summary.drifted_columns <= 1


def test_reports_are_saved_as_html_and_json(reports):
    for summary in reports.values():
        assert summary.html_path.endswith(".html") and "<html" in open(summary.html_path).read(2000).lower()
        assert "metrics" in json.load(open(summary.json_path))
        json.dumps(summary.to_dict())  # serialisable for XCom


def test_drift_message_says_what_drifted_and_what_to_do(reports):
    text = render_drift_message(reports["shifted"], champion_version=7, report_url="http://reports/x.html")
    assert text.startswith(":warning:")
    assert "champion v7" in text
    assert "`unit_price`" in text and "`product_type`" in text and "`order_hour`" not in text
    assert "<http://reports/x.html|drift report>" in text
    assert "recommender_train" in text
    assert len(text) < 1500
    calm = render_drift_message(reports["stable"], champion_version=7, report_url="http://reports/y.html")
    assert ":warning:" not in calm


def test_run_drift_report_refuses_an_empty_window(tmp_path):
    frame = pd.DataFrame({c: [] for c in FEATURES})
    with pytest.raises(ValueError, match="both windows"):
        run_drift_report(frame, frame, tmp_path)


def snapshot_dict(values: dict[str, tuple[str, float, float]], statuses: dict[str, str] | None) -> dict:
    metrics = [
        {
            "config": {"type": "evidently:metric_v2:DriftedColumnsCount", "drift_share": 0.5},
            "value": {"count": 1.0, "share": 0.5},
        }
    ]
    for column, (method, threshold, score) in values.items():
        metrics.append(
            {
                "config": {
                    "type": "evidently:metric_v2:ValueDrift",
                    "column": column,
                    "method": method,
                    "threshold": threshold,
                },
                "value": score,
            }
        )
    tests = [{"name": f"Value Drift for column {c}", "status": s} for c, s in (statuses or {}).items()]
    return {"metrics": metrics, "tests": tests}


def test_summarise_snapshot_reads_p_values_and_distances():
    values = {"price": ("K-S p_value", 0.05, 0.01), "qty": ("Wasserstein distance (normed)", 0.1, 0.05)}
    summary = summarise_snapshot(snapshot_dict(values, None), html_path="h", json_path="j", n_reference=10, n_current=5)
    assert summary.columns == [
        ColumnDrift("price", "K-S p_value", 0.05, 0.01, True),
        ColumnDrift("qty", "Wasserstein distance (normed)", 0.1, 0.05, False),
    ]
    assert summary.dataset_drift  # share 0.5 reaches drift_share 0.5
    with_tests = summarise_snapshot(
        snapshot_dict(values, {"price": "SUCCESS", "qty": "FAIL"}),
        html_path="h",
        json_path="j",
        n_reference=10,
        n_current=5,
    )
    assert [c.drifted for c in with_tests.columns] == [False, True]  # test statuses win


def test_message_escapes_slack_control_characters():
    summary = DriftSummary(
        dataset_drift=False,
        drifted_columns=1,
        share=0.25,
        columns=[ColumnDrift("a<b>&c", "K-S p_value", 0.05, 0.001, True)]
        + [ColumnDrift(f"x{i}", "K-S p_value", 0.05, 0.5, False) for i in range(3)],
        html_path="h",
        json_path="j",
        n_reference=100,
        n_current=50,
    )
    text = render_drift_message(summary, None, "http://r")
    assert "`a&lt;b&gt;&amp;c`" in text
    assert "no champion yet" in text
    assert "p = 0.001 < 0.05" in text
