"""The evaluation protocol: both settings, coverage, segments, basket completion; post-filtering equals masking."""

import numpy as np
import pandas as pd
import pytest

from sandbox.synthetic_order_lines import make_store
from storeloop.recsys.models import ItemKNNRecommender, PopularityRecommender, RelatedProductsModel
from storeloop.recsys.protocol import (
    customer_segments,
    evaluate_model,
    evaluate_related,
    evaluation_data,
    ranked_lists,
)
from storeloop.recsys.split import time_split

T = pd.Timestamp("2026-03-01T00:00:00Z")


def lines(rows):
    return pd.DataFrame(
        [(c, p, 1, T + pd.Timedelta(days=d), o) for c, p, d, o in rows],
        columns=["customer_id", "product_id", "quantity", "ordered_at", "order_id"],
    )


# before the cutoff (day 30): u1 bought A, B; u2 bought A. After: u1 buys A (re-buy) and C; u2 buys B.
TOY = lines([("u1", "A", 0, "o1"), ("u1", "B", 1, "o2"), ("u2", "A", 2, "o3"), ("u3", "C", 3, "o4"),
             ("u3", "B", 3, "o4"), ("u1", "A", 40, "o5"), ("u1", "C", 40, "o5"), ("u2", "B", 45, "o6")])


def fixed(lists):
    """A 'model' that returns fixed ranked lists (ignores k beyond the list length)."""
    def recommend(history, k):
        rows = [(c, p, r + 1, 1.0) for c in sorted(set(history["customer_id"])) for r, p in enumerate(lists[c][:k])]
        return pd.DataFrame(rows, columns=["customer_id", "product_id", "rank", "score"])
    return recommend


def test_both_settings_by_hand():
    split = time_split(TOY, holdout_days=10)
    data = evaluation_data(split)
    assert sorted(map(tuple, data.relevant["all"].to_numpy())) == [("u1", "A"), ("u1", "C"), ("u2", "B")]
    assert sorted(map(tuple, data.relevant["new"].to_numpy())) == [("u1", "C"), ("u2", "B")]  # re-buy of A removed
    ev = evaluate_model(fixed({"u1": ["A", "B", "C"], "u2": ["A", "C", "B"]}), data, k=2)
    # all: u1 hits A at 1 of {A, C}; u2 misses (B at rank 3)
    assert ev.metrics["all.hit_rate_at_2"] == 0.5
    assert ev.metrics["all.n_eval_customers"] == 2
    # new: bought products leave the ranking: u1 -> [C], u2 -> [C, B]: both hit
    assert ev.metrics["new.hit_rate_at_2"] == 1.0
    assert ev.metrics["new.ndcg_at_2"] == pytest.approx((1.0 + 1 / np.log2(3)) / 2)
    assert ev.metrics["all.coverage_at_2"] == 1.0  # A, B (u1) and A, C (u2): all 3 known products
    assert ev.metrics["new.coverage_at_2"] == pytest.approx(2 / 3)  # C (u1) and C, B (u2)


def test_new_in_list_judges_the_list_as_published_on_new_items_only():
    split = time_split(TOY, holdout_days=10)
    data = evaluation_data(split)
    # new items are u1: C, u2: B. As published, u1's top 2 [A, B] holds no new item; u2's [A, C] misses B too
    ev = evaluate_model(fixed({"u1": ["A", "B", "C"], "u2": ["A", "C", "B"]}), data, k=2)
    assert ev.metrics["new_in_list.hit_rate_at_2"] == 0.0 and ev.metrics["new_in_list.n_eval_customers"] == 2
    assert ev.metrics["new.hit_rate_at_2"] == 1.0  # the re-ranked list finds both
    # a list that puts the new item second: NDCG of a hit at rank 2 for u1, rank 1 for u2
    ev = evaluate_model(fixed({"u1": ["A", "C"], "u2": ["B", "A"]}), data, k=2)
    assert ev.metrics["new_in_list.ndcg_at_2"] == pytest.approx((1 / np.log2(3) + 1.0) / 2)


def test_new_items_by_post_filtering_equals_masking_in_the_model():
    store = make_store(n_customers=400, n_products=80, seed=8)
    split = time_split(store.order_lines, holdout_days=30)
    data = evaluation_data(split)
    plain = ItemKNNRecommender().fit(split.train)
    masked = ItemKNNRecommender(exclude_purchased=True).fit(split.train)
    via_protocol = evaluate_model(plain.recommend, data, k=10).per_customer["new"]
    via_mask = evaluate_model(masked.recommend, data, k=10).per_customer["new"]
    pd.testing.assert_frame_equal(via_protocol, via_mask)


def test_one_pass_gives_the_all_items_list_the_model_gives_for_k():
    store = make_store(n_customers=400, n_products=80, seed=9)
    split = time_split(store.order_lines, holdout_days=30)
    data = evaluation_data(split)
    model = ItemKNNRecommender().fit(split.train)
    calls = []

    def recommend(history, k):
        calls.append(history["customer_id"].nunique())
        return model.recommend(history, k)

    all_recs, _ = ranked_lists(recommend, data.history, data.bought, 10)
    direct = model.recommend(data.history, 10)[["customer_id", "product_id", "rank", "score"]]
    order = ["customer_id", "rank"]
    pd.testing.assert_frame_equal(all_recs.sort_values(order).reset_index(drop=True),
                                  direct.astype({"customer_id": str, "product_id": str}).sort_values(order)
                                  .reset_index(drop=True))
    assert sum(calls) == data.history["customer_id"].nunique()  # each customer asked once


def test_segments_from_dim_customers_or_from_order_lines():
    fallback = customer_segments(TOY).set_index("customer_id")
    assert fallback.loc["u1", "cohort"] == "2026-03" and (fallback["country"] == "unknown").all()
    dim = pd.DataFrame({"customer_id": ["u1", "u2"], "country_code": ["DE", None],
                        "cohort_month": pd.to_datetime(["2025-12-01", "2026-01-01"])})
    seg = customer_segments(TOY, dim).set_index("customer_id")
    assert seg.loc["u1", ["country", "cohort"]].tolist() == ["DE", "2025-12"]
    assert seg.loc["u2", "country"] == "unknown"
    assert seg.loc["u3", ["country", "cohort"]].tolist() == ["unknown", "2026-03"]  # not in the dim: fallback
    data = evaluation_data(time_split(TOY, holdout_days=10), seg.reset_index())
    ev = evaluate_model(fixed({"u1": ["A", "C"], "u2": ["C", "A"]}), data, k=2)
    by_country = ev.segments.query("setting == 'all' and segment_type == 'country'").set_index("segment")
    assert by_country.loc["DE", "n_customers"] == 1 and by_country.loc["DE", "hit_rate"] == 1.0
    assert by_country.loc["unknown", "hit_rate"] == 0.0


def test_basket_completion_by_hand():
    holdout = lines([("u1", "A", 0, "o1"), ("u1", "B", 0, "o1"), ("u2", "A", 0, "o2"), ("u2", "C", 0, "o2"),
                     ("u3", "D", 0, "o3")])
    related = pd.DataFrame({"product_id": ["A", "B", "C"], "related_product_id": ["B", "C", "D"], "rank": 1,
                            "score": 1.0})
    # anchors: (o1, A) hit B, (o1, B) miss, (o2, A) miss (B not in o2), (o2, C) miss; o3 has one product
    assert evaluate_related(related, holdout, k=1) == {"related_hit_rate_at_1": 0.25, "related_n_anchors": 4.0}


def test_related_products_model_completes_baskets_better_than_popularity():
    store = make_store(n_customers=800, n_products=120, seed=9)
    split = time_split(store.order_lines, holdout_days=30)
    related = RelatedProductsModel().fit(split.train).related_products(5)
    assert (related["product_id"] != related["related_product_id"]).all()
    assert related.groupby("product_id").size().eq(5).all()
    ours = evaluate_related(related, split.holdout, 5)["related_hit_rate_at_5"]
    popular = evaluate_related(PopularityRecommender().fit(split.train).related_products(5), split.holdout, 5)
    assert ours > popular["related_hit_rate_at_5"]


def test_orders_without_a_customer_still_teach_what_is_bought_together():
    # customers buy A, B, C and D one at a time (no co-purchase among them); guests buy A with D, three times
    known = [("c1", "A", "o1"), ("c2", "B", "o2"), ("c3", "C", "o3"), ("c4", "D", "o4"), ("c5", "B", "o5")]
    guests = [(None, "A", f"g{n}") for n in range(3)] + [(None, "D", f"g{n}") for n in range(3)]
    history = pd.DataFrame({
        "customer_id": [c for c, _, _ in known + guests], "product_id": [p for _, p, _ in known + guests],
        "order_id": [o for _, _, o in known + guests], "quantity": 1, "ordered_at": T})
    related = RelatedProductsModel(customer_weight=0.0).fit(history).related_products(1)
    top = dict(zip(related["product_id"], related["related_product_id"], strict=True))
    assert top["A"] == "D" and top["D"] == "A"
    # without the guests' orders, A's neighbour is only popularity's pick (B, bought twice)
    alone = RelatedProductsModel(customer_weight=0.0).fit(history.dropna(subset=["customer_id"])).related_products(1)
    assert dict(zip(alone["product_id"], alone["related_product_id"], strict=True))["A"] == "B"
