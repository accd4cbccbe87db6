import math
import time

import numpy as np
import pandas as pd
import pytest

from storeloop.recsys.evaluate import evaluate_recommendations
from storeloop.recsys.models import ItemKNNRecommender, PopularityRecommender, Recommender
from storeloop.recsys.split import time_split
from storeloop.recsys.synthetic import make_store

T0 = pd.Timestamp("2026-10-01T12:00:00Z")


def lines(rows: list[tuple[str, str]], when: pd.Timestamp = T0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [c for c, _ in rows],
            "product_id": [p for _, p in rows],
            "quantity": 1,
            "ordered_at": when,
        }
    )


# c1: A B, c2: A B, c3: A C, c4: D  ->  counts A=3 B=2 C=1 D=1
# cosine: (A,B) = 2/(sqrt3*sqrt2), (A,C) = 1/sqrt3, (B,C) = 0, D similar to nothing
TOY = lines([("c1", "A"), ("c1", "B"), ("c2", "A"), ("c2", "B"), ("c3", "A"), ("c3", "C"), ("c4", "D")])


def test_both_models_satisfy_the_protocol():
    assert isinstance(PopularityRecommender(), Recommender)
    assert isinstance(ItemKNNRecommender(), Recommender)


def test_popularity_same_list_for_everyone_ties_by_product_id():
    model = PopularityRecommender(window_days=30).fit(TOY)
    recs = model.recommend(lines([("x", "A"), ("y", "D")]), k=3)
    assert list(recs.columns) == ["customer_id", "product_id", "rank", "score"]
    for _, group in recs.groupby("customer_id"):
        assert group["product_id"].tolist() == ["A", "B", "C"]
        assert group["rank"].tolist() == [1, 2, 3]
        assert group["score"].is_monotonic_decreasing


def test_popularity_window_counts_recent_sales_first():
    old = lines([("c1", "A"), ("c2", "A"), ("c3", "A")], when=T0 - pd.Timedelta(days=100))
    recent = lines([("c4", "B")], when=T0)
    model = PopularityRecommender(window_days=30).fit(pd.concat([old, recent]))
    # B sold in the window; A only before it (so A is ranked by its all-time count, after B)
    assert model.recommend(lines([("x", "Z")]), k=2)["product_id"].tolist() == ["B", "A"]


def test_popularity_exclude_purchased_and_related_products():
    model = PopularityRecommender(exclude_purchased=True).fit(TOY)
    assert model.recommend(lines([("x", "A")]), k=2)["product_id"].tolist() == ["B", "C"]
    related = model.related_products(k=2)
    assert related.groupby("product_id")["related_product_id"].apply(list).to_dict() == {
        "A": ["B", "C"],
        "B": ["A", "C"],
        "C": ["A", "B"],
        "D": ["A", "B"],
    }


def test_item_knn_scores_by_cosine_and_fills_with_popularity():
    model = ItemKNNRecommender().fit(TOY)
    recs = model.recommend(lines([("x", "A")]), k=4)
    # B and C from similarity; then A (repeat purchase allowed, most popular) and D by popularity with score 0
    assert recs["product_id"].tolist() == ["B", "C", "A", "D"]
    assert recs["score"].tolist() == pytest.approx([2 / math.sqrt(6), 1 / math.sqrt(3), 0.0, 0.0])
    assert recs["rank"].tolist() == [1, 2, 3, 4]


def test_item_knn_exclude_purchased():
    model = ItemKNNRecommender(exclude_purchased=True).fit(TOY)
    assert model.recommend(lines([("x", "A")]), k=4)["product_id"].tolist() == ["B", "C", "D"]


def test_item_knn_unknown_customer_products_get_popularity():
    model = ItemKNNRecommender().fit(TOY)
    recs = model.recommend(lines([("new", "never-seen")]), k=2)
    assert recs["product_id"].tolist() == ["A", "B"]


def test_item_knn_related_products_never_contain_the_product():
    related = ItemKNNRecommender().fit(TOY).related_products(k=3)
    assert (related["product_id"] != related["related_product_id"]).all()
    assert related.loc[related["product_id"] == "A", "related_product_id"].tolist() == ["B", "C", "D"]
    assert related.groupby("product_id").size().eq(3).all()


def test_item_knn_recency_weighting_prefers_recent_co_purchases():
    # A was bought with B long ago and with C recently, by equally many customers
    old = lines([("c1", "A"), ("c1", "B"), ("c2", "A"), ("c2", "B")], when=T0 - pd.Timedelta(days=300))
    new = lines([("c3", "A"), ("c3", "C"), ("c4", "A"), ("c4", "C")], when=T0)
    model = ItemKNNRecommender(half_life_days=30).fit(pd.concat([old, new]))
    assert model.recommend(lines([("x", "A")]), k=1)["product_id"].tolist() == ["C"]


def test_neighbour_pruning_keeps_n_per_item():
    store = make_store(n_customers=300, n_products=60, seed=3)
    model = ItemKNNRecommender(n_neighbors=5).fit(store.order_lines)
    assert np.diff(model.similarity_.indptr).max() <= 5


def test_recommend_rejects_history_without_required_columns():
    with pytest.raises(ValueError, match="customer_id"):
        PopularityRecommender().fit(TOY.drop(columns=["customer_id"]))


def test_unfitted_model_says_so():
    with pytest.raises(RuntimeError, match="not fitted"):
        ItemKNNRecommender().recommend(TOY)


def test_item_knn_beats_popularity_on_customers_with_a_favourite_category():
    store = make_store(n_customers=2000, n_products=300, seed=0)
    split = time_split(store.order_lines, holdout_days=30)
    history = split.train.loc[split.train["customer_id"].isin(split.eval_customers)]
    metrics = {}
    for model in (PopularityRecommender(), ItemKNNRecommender()):
        recs = model.fit(split.train).recommend(history, k=10)
        metrics[model.name] = evaluate_recommendations(recs, split.holdout, k=10, customers=split.eval_customers)
    assert metrics["item_knn"]["n_eval_customers"] == metrics["popularity"]["n_eval_customers"] > 500
    assert metrics["item_knn"]["ndcg_at_10"] > 1.5 * metrics["popularity"]["ndcg_at_10"]
    assert metrics["item_knn"]["hit_rate_at_10"] > metrics["popularity"]["hit_rate_at_10"]


def test_scoring_2000_customers_by_300_products_is_fast():
    store = make_store(n_customers=2000, n_products=300, seed=1)
    model = ItemKNNRecommender()
    started = time.perf_counter()
    model.fit(store.order_lines)
    recs = model.recommend(store.order_lines, k=10)
    related = model.related_products(k=5)
    elapsed = time.perf_counter() - started
    assert recs["customer_id"].nunique() == store.order_lines["customer_id"].nunique()
    assert recs.groupby("customer_id").size().eq(10).all()
    assert len(related) == 5 * store.order_lines["product_id"].nunique()
    assert elapsed < 2.0, f"fit + score + related took {elapsed:.2f}s"


def test_models_are_deterministic():
    store = make_store(n_customers=400, n_products=80, seed=5)
    a = ItemKNNRecommender().fit(store.order_lines).recommend(store.order_lines, k=10)
    b = ItemKNNRecommender().fit(store.order_lines.sample(frac=1.0, random_state=1)).recommend(store.order_lines, k=10)
    pd.testing.assert_frame_equal(a, b)
