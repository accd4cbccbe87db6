import math

import numpy as np
import pandas as pd
import pytest

from storeloop.recsys.evaluate import (
    average_precision_at_k,
    evaluate_recommendations,
    hit_rate_at_k,
    ndcg_at_k,
    per_customer_metrics,
    precision_at_k,
    recall_at_k,
    relevant_items,
)


def recs_frame(lists: dict[str, list[str]]) -> pd.DataFrame:
    rows = [(c, p, r + 1, 1.0 / (r + 1)) for c, items in lists.items() for r, p in enumerate(items)]
    return pd.DataFrame(rows, columns=["customer_id", "product_id", "rank", "score"])


def holdout_frame(bought: dict[str, list[str]]) -> pd.DataFrame:
    rows = [(c, p) for c, items in bought.items() for p in items]
    return pd.DataFrame(rows, columns=["customer_id", "product_id"])


def test_ndcg_by_hand():
    # hits at ranks 2 and 4; 3 relevant items -> ideal hits at ranks 1, 2, 3
    # DCG  = 1/log2(3) + 1/log2(5)          = 0.630930 + 0.430677 = 1.061606
    # IDCG = 1/log2(2) + 1/log2(3) + 1/log2(4) = 1 + 0.630930 + 0.5 = 2.130930
    # NDCG = 1.061606 / 2.130930 = 0.498189
    assert ndcg_at_k(["a", "b", "c", "d"], {"b", "d", "e"}, k=4) == pytest.approx(0.498189, abs=1e-6)
    assert ndcg_at_k(["b", "a"], {"b"}, k=2) == 1.0
    assert ndcg_at_k(["a", "b"], {"b"}, k=2) == pytest.approx(1 / math.log2(3))
    assert ndcg_at_k(["a", "c"], {"b"}, k=2) == 0.0


def test_list_metrics_by_hand():
    recommended, relevant = ["a", "b", "c", "d"], {"b", "d", "e"}
    assert hit_rate_at_k(recommended, relevant, k=4) == 1.0
    assert hit_rate_at_k(recommended, relevant, k=1) == 0.0
    assert precision_at_k(recommended, relevant, k=4) == 0.5
    assert precision_at_k(["b"], relevant, k=4) == 0.25  # precision divides by k
    assert recall_at_k(recommended, relevant, k=4) == pytest.approx(2 / 3)
    assert recall_at_k(recommended, relevant, k=2) == pytest.approx(1 / 3)


def test_evaluate_recommendations_by_hand():
    recs = recs_frame({"u1": ["a", "b", "c", "d"], "u2": ["x", "y", "z", "w"], "u3": ["q", "r"]})
    holdout = holdout_frame({"u1": ["b", "d", "e", "e"], "u2": ["x"], "u3": ["s"], "u4": ["a"]})
    result = evaluate_recommendations(recs, holdout, k=4, customers=["u1", "u2", "u3"])
    # u1: hit 1, precision 2/4, recall 2/3, ndcg 0.498189, AP (1/2 + 2/4) / 3; u2: hit 1, precision 1/4, recall 1,
    # ndcg 1, AP 1; u3: zeros
    assert result == {
        "map_at_4": pytest.approx(((0.5 + 0.5) / 3 + 1 + 0) / 3),
        "hit_rate_at_4": pytest.approx(2 / 3),
        "precision_at_4": pytest.approx((0.5 + 0.25 + 0) / 3),
        "recall_at_4": pytest.approx((2 / 3 + 1 + 0) / 3),
        "ndcg_at_4": pytest.approx((0.498189 + 1 + 0) / 3, abs=1e-6),
        "n_eval_customers": 3.0,
    }


def test_customers_without_recommendations_count_as_misses():
    result = evaluate_recommendations(recs_frame({"u1": ["a"]}), holdout_frame({"u1": ["a"], "u2": ["b"]}), k=1)
    assert result["n_eval_customers"] == 2.0
    assert result["hit_rate_at_1"] == 0.5
    assert result["ndcg_at_1"] == 0.5


def test_only_top_k_ranks_count():
    recs = recs_frame({"u1": ["a", "b", "c"]})
    assert evaluate_recommendations(recs, holdout_frame({"u1": ["c"]}), k=2)["hit_rate_at_2"] == 0.0


def test_vectorised_metrics_match_the_list_definitions():
    rng = np.random.default_rng(0)
    products = [f"p{i}" for i in range(30)]
    lists = {f"u{i}": list(rng.choice(products, size=10, replace=False)) for i in range(50)}
    bought = {c: list(rng.choice(products, size=rng.integers(1, 6), replace=True)) for c in lists}
    table = per_customer_metrics(recs_frame(lists), relevant_items(holdout_frame(bought)), k=7).set_index("customer_id")
    for customer, items in lists.items():
        row = table.loc[customer]
        assert row["ndcg"] == pytest.approx(ndcg_at_k(items, bought[customer], 7))
        assert row["recall"] == pytest.approx(recall_at_k(items, bought[customer], 7))
        assert row["precision"] == pytest.approx(precision_at_k(items, bought[customer], 7))
        assert row["hit_rate"] == hit_rate_at_k(items, bought[customer], 7)
        assert row["ap"] == pytest.approx(average_precision_at_k(items, bought[customer], 7))


def test_average_precision_by_hand():
    # hits at ranks 1 and 3 of 3 relevant: (1/1 + 2/3) / 3
    assert average_precision_at_k(["a", "x", "b"], {"a", "b", "c"}, k=3) == pytest.approx((1 + 2 / 3) / 3)
    # only min(|relevant|, k) hits are possible: one relevant item at rank 2 -> 1/2
    assert average_precision_at_k(["x", "a"], {"a"}, k=2) == 0.5
