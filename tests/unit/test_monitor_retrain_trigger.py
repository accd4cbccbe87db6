"""When the monitor triggers retraining: on drift, unless the champion is younger than the cooldown (no loop)."""

from __future__ import annotations

from storeloop.orchestration.monitor import retrain_reason

DRIFT = {"dataset_drift": True, "drifted_columns": 2, "drifted_column_names": ["basket_size", "order_hour"],
         "report_url": "http://reports/drift.html"}


def test_drift_with_an_old_champion_triggers_with_a_reason():
    reason = retrain_reason(DRIFT, champion_age_hours=30.0, cooldown_hours=24)
    assert reason is not None and "basket_size, order_hour" in reason and "http://reports/drift.html" in reason


def test_no_drift_or_a_fresh_champion_triggers_nothing():
    assert retrain_reason({**DRIFT, "dataset_drift": False}, 100.0, 24) is None
    assert retrain_reason(DRIFT, champion_age_hours=2.0, cooldown_hours=24) is None


def test_drift_without_any_champion_triggers():
    assert retrain_reason(DRIFT, champion_age_hours=None, cooldown_hours=24) is not None
