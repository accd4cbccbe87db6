import pandas as pd

from sandbox.synthetic_order_lines import make_store
from storeloop.recsys.models import ItemKNNRecommender
from storeloop.recsys.pyfunc import model_input
from storeloop.recsys.scoring import score_customers


def test_score_customers_scores_everyone_with_a_non_cancelled_purchase():
    store = make_store(n_customers=200, n_products=40, seed=2)
    lines = store.order_lines.copy()
    only_cancelled = lines["customer_id"].iloc[0]
    lines.loc[lines["customer_id"] == only_cancelled, "is_cancelled"] = True
    lines.loc[lines.index[-3:], "customer_id"] = None  # guest checkouts
    model = ItemKNNRecommender().fit(lines)
    recs = score_customers(model, lines, k=6)
    assert list(recs.columns) == ["customer_id", "product_id", "rank", "score"]
    expected = set(lines.loc[~lines["is_cancelled"], "customer_id"].dropna())
    assert set(recs["customer_id"]) == expected
    assert only_cancelled not in expected
    assert recs.groupby("customer_id").size().eq(6).all()


def test_model_input_is_naive_utc_with_int_quantity():
    lines = pd.DataFrame(
        {
            "customer_id": ["c", None],
            "product_id": ["p", "q"],
            "quantity": [None, 2],
            "ordered_at": pd.to_datetime(["2026-01-01T10:00:00+02:00", "2026-01-02T00:00:00Z"], utc=True),
        }
    )
    history = model_input(lines)
    assert list(history.columns) == ["customer_id", "product_id", "quantity", "ordered_at"]
    assert len(history) == 1
    assert history["quantity"].tolist() == [1]
    assert history["ordered_at"].dt.tz is None
    assert history["ordered_at"].iloc[0] == pd.Timestamp("2026-01-01T08:00:00")


def test_null_is_cancelled_counts_as_not_cancelled():
    lines = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "product_id": ["p", "q", "p"],
            "quantity": 1,
            "ordered_at": pd.Timestamp("2026-01-01", tz="UTC"),
            "is_cancelled": pd.Series([True, None, False], dtype=object),
        }
    )
    model = ItemKNNRecommender().fit(lines)
    assert set(score_customers(model, lines, k=1)["customer_id"]) == {"b", "c"}
