import math

import numpy as np
import pandas as pd
import pytest

from sandbox.synthetic_order_lines import make_store
from storeloop.recsys.evaluate import evaluate_recommendations
from storeloop.recsys.models import ItemKNNRecommender, PopularityRecommender, Recommender
from storeloop.recsys.split import time_split

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


def test_scoring_2000_customers_by_300_products_fills_every_list():
    """Shape at a realistic size; how fast it is belongs to bench/bench_train.py, not to a test."""
    store = make_store(n_customers=2000, n_products=300, seed=1)
    model = ItemKNNRecommender()
    model.fit(store.order_lines)
    recs = model.recommend(store.order_lines, k=10)
    related = model.related_products(k=5)
    assert recs["customer_id"].nunique() == store.order_lines["customer_id"].nunique()
    assert recs.groupby("customer_id").size().eq(10).all()
    assert len(related) == 5 * store.order_lines["product_id"].nunique()


def test_models_are_deterministic():
    store = make_store(n_customers=400, n_products=80, seed=5)
    a = ItemKNNRecommender().fit(store.order_lines).recommend(store.order_lines, k=10)
    b = ItemKNNRecommender().fit(store.order_lines.sample(frac=1.0, random_state=1)).recommend(store.order_lines, k=10)
    pd.testing.assert_frame_equal(a, b)


# ---------------------------------------------------------------------------------------------- new candidates

from storeloop.recsys.models import (  # noqa: E402
    ALSRecommender,
    HybridRecommender,
    RepeatPurchaseRecommender,
)
from storeloop.recsys.topk import keep_top_n_per_row as _keep_top_n_per_row  # noqa: E402
from storeloop.recsys.topk import top_k as _top_k  # noqa: E402


def test_fast_top_k_equals_a_full_lexsort_with_ties():
    rng = np.random.default_rng(0)
    primary = rng.integers(0, 4, size=(50, 40)).astype(np.float64)  # many ties
    primary[rng.random(primary.shape) < 0.2] = -np.inf
    tiebreak = rng.integers(0, 5, size=40).astype(np.float64)
    for k in (1, 7, 40, 60):
        idx, values = _top_k(primary, tiebreak, k)
        reference = np.lexsort((np.broadcast_to(-tiebreak, primary.shape), -primary), axis=1)[:, : min(k, 40)]
        np.testing.assert_array_equal(idx, reference)
        np.testing.assert_array_equal(values, np.take_along_axis(primary, reference, axis=1))


def test_vectorised_neighbour_pruning_matches_a_per_row_reference():
    import scipy.sparse as sp

    m = sp.random(30, 30, density=0.4, random_state=2, format="csr")
    m.data = np.round(m.data * 4) / 4  # ties
    pruned = _keep_top_n_per_row(m, 3).toarray()
    dense = m.toarray()
    for row in range(30):
        nz = np.flatnonzero(dense[row])
        keep = nz[np.argsort(-dense[row, nz], kind="stable")[:3]]
        expected = np.zeros(30)
        expected[keep] = dense[row, keep]
        np.testing.assert_array_equal(pruned[row], expected)


def test_repeat_purchase_ranks_own_recent_frequent_products_then_popular_ones():
    model = RepeatPurchaseRecommender(half_life_days=30).fit(TOY)
    history = pd.concat([
        lines([("x", "D")], when=T0 - pd.Timedelta(days=60)),
        lines([("x", "C"), ("x", "C")], when=T0 - pd.Timedelta(days=30)),
        lines([("x", "B")], when=T0),
    ])
    # weights: B 1.0, C 2 * 0.5 = 1.0 (tie: B more popular), D 0.25; then A (most popular, not bought)
    assert model.recommend(history, k=4)["product_id"].tolist() == ["B", "C", "D", "A"]


def test_bm25_item_knn_differs_from_cosine_and_still_excludes_itself():
    store = make_store(n_customers=400, n_products=80, seed=6)
    cos = ItemKNNRecommender().fit(store.order_lines)
    bm25 = ItemKNNRecommender(weighting="bm25").fit(store.order_lines)
    assert bm25.name == "item_knn_bm25" and bm25.get_params()["weighting"] == "bm25"
    assert (cos.similarity_ != bm25.similarity_).nnz > 0
    related = bm25.related_products(k=4)
    assert (related["product_id"] != related["related_product_id"]).all()


def candidate_metrics(model: Recommender, seed: int = 0) -> dict[str, float]:
    store = make_store(n_customers=1500, n_products=200, seed=seed)
    split = time_split(store.order_lines, holdout_days=30)
    history = split.train.loc[split.train["customer_id"].isin(split.eval_customers)]
    recs = model.fit(split.train).recommend(history, k=10)
    return evaluate_recommendations(recs, split.holdout, k=10, customers=split.eval_customers)


def test_als_and_hybrid_beat_popularity_and_als_is_seeded():
    popularity = candidate_metrics(PopularityRecommender())["ndcg_at_10"]
    als = candidate_metrics(ALSRecommender(factors=16, iterations=8, seed=3))
    assert als["ndcg_at_10"] > 1.5 * popularity
    assert candidate_metrics(HybridRecommender(repeat_weight=2.0))["ndcg_at_10"] > 1.5 * popularity
    assert candidate_metrics(ALSRecommender(factors=16, iterations=8, seed=3)) == als


def test_a_customers_list_does_not_depend_on_who_else_is_scored():
    store = make_store(n_customers=300, n_products=60, seed=7)
    for model in (ALSRecommender(factors=8, iterations=4), HybridRecommender(), RepeatPurchaseRecommender()):
        model.fit(store.order_lines)
        everyone = model.recommend(store.order_lines, k=5)
        one = store.order_lines["customer_id"].iloc[0]
        alone = model.recommend(store.order_lines.loc[store.order_lines["customer_id"] == one], k=5)
        mine = everyone.loc[everyone["customer_id"] == one].reset_index(drop=True)
        pd.testing.assert_frame_equal(alone[["product_id", "rank"]], mine[["product_id", "rank"]])


def test_sparse_scoring_path_equals_the_dense_path():
    store = make_store(n_customers=500, n_products=90, seed=12)
    split = time_split(store.order_lines, holdout_days=30)
    for model in (RepeatPurchaseRecommender(), ItemKNNRecommender(n_neighbors=5), HybridRecommender(repeat_weight=2.0)):
        model.fit(split.train)
        sparse = model.recommend(split.train, k=12)

        class Dense(type(model)):
            def _sparse_scores(self, hist_block):
                return None

        dense_model = Dense.__new__(Dense)
        dense_model.__dict__.update(model.__dict__)
        dense = dense_model.recommend(split.train, k=12)
        pd.testing.assert_frame_equal(sparse[["customer_id", "product_id", "rank"]],
                                      dense[["customer_id", "product_id", "rank"]])
        np.testing.assert_allclose(sparse["score"], dense["score"], rtol=1e-9, atol=1e-12)
