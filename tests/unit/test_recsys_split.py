import pandas as pd
import pytest

from storeloop.recsys.split import time_split


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c", "c", None],
            "product_id": ["p1", "p2", "p1", "p3", "p1", "p2"],
            "quantity": 1,
            "ordered_at": pd.to_datetime(
                [
                    "2026-01-01T00:00:00Z",
                    "2026-03-15T00:00:00Z",  # after the cutoff
                    "2026-02-01T00:00:00Z",
                    "2026-01-20T00:00:00Z",
                    "2026-03-31T00:00:00Z",  # max: cutoff = 2026-03-01
                    "2026-03-30T00:00:00Z",  # guest line: in holdout, never an eval customer
                ]
            ),
        }
    )


def test_holdout_is_the_last_days_before_the_max_timestamp():
    split = time_split(frame(), holdout_days=30)
    assert split.cutoff == pd.Timestamp("2026-03-01")
    assert sorted(split.train["product_id"]) == ["p1", "p1", "p3"]
    assert len(split.holdout) == 3
    assert (pd.to_datetime(split.train["ordered_at"]) < pd.Timestamp("2026-03-01", tz="UTC")).all()


def test_eval_customers_bought_in_both_periods():
    assert list(time_split(frame(), holdout_days=30).eval_customers) == ["a", "c"]


def test_split_errors_name_the_problem():
    with pytest.raises(ValueError, match="empty"):
        time_split(frame().iloc[0:0])
    with pytest.raises(ValueError, match="no training data"):
        time_split(frame(), holdout_days=1000)
