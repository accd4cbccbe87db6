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


# ------------------------------------------------------------------ eligibility before the cut, explicit fallbacks

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from storeloop.recsys.models import (  # noqa: E402
    ALSRecommender,
    PopularityRecommender,
    RelatedProductsModel,
    RepeatPurchaseRecommender,
)
from storeloop.recsys.scoring import customer_recommendations, list_overlap, product_recommendations  # noqa: E402


@pytest.mark.parametrize("model_class", [ItemKNNRecommender, RepeatPurchaseRecommender, PopularityRecommender,
                                         ALSRecommender])
def test_ineligible_products_are_removed_before_the_cut_so_lists_stay_full(model_class):
    store = make_store(n_customers=150, n_products=40, seed=5)
    lines = store.order_lines
    model = model_class().fit(lines)
    unfiltered = score_customers(model, lines, k=8)
    banned = set(unfiltered["product_id"].value_counts().index[:6])  # the products the model likes best
    eligible = [p for p in model.products_ if p not in banned]
    recs = customer_recommendations(model, lines, customers=["no-history"], eligible=eligible, k=8)
    assert not recs["product_id"].isin(banned).any()
    assert recs.groupby("customer_id").size().eq(8).all()
    assert set(recs.loc[recs["source"] == "model", "customer_id"]) == set(unfiltered["customer_id"])
    # a customer's eligible products keep the order the model gave them
    one = unfiltered["customer_id"].iloc[0]
    kept = unfiltered.loc[(unfiltered["customer_id"] == one) & ~unfiltered["product_id"].isin(banned), "product_id"]
    mine = recs.loc[recs["customer_id"] == one].sort_values("rank")["product_id"].tolist()
    assert mine[: len(kept)] == kept.tolist()


def test_a_customer_without_history_gets_the_eligible_trending_list_marked_as_such():
    store = make_store(n_customers=100, n_products=30, seed=6)
    model = RepeatPurchaseRecommender().fit(store.order_lines)
    top = model.popularity().sort_values(ascending=False).index
    eligible = [p for p in model.products_ if p != top[0]]
    recs = customer_recommendations(model, store.order_lines, ["new-1", "new-2"], eligible, k=5)
    new = recs.loc[recs["customer_id"] == "new-1"].sort_values("rank")
    assert new["source"].eq("trending").all() and new["product_id"].tolist() == list(top[1:6])


def related_input() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    related = pd.DataFrame({"product_id": ["a", "a", "a", "b"], "related_product_id": ["b", "x", "c", "a"],
                            "rank": [1, 2, 3, 1], "score": [0.9, 0.8, 0.0, 0.7]})
    products = pd.DataFrame({
        "product_id": ["a", "b", "c", "d", "e", "f", "x", "lonely"],
        "product_type": ["mug", "mug", "mug", "tea", "tea", None, "mug", "tea"],
        "vendor": ["v1", "v1", "v2", "v2", "v2", "v1", "v1", "v9"],
        "is_eligible": [True, True, True, True, True, True, False, True],
    })
    popularity = pd.Series({"a": 5.0, "b": 4.0, "c": 3.0, "d": 2.0, "e": 1.0, "f": 0.5, "x": 9.0})
    return related, products, popularity


def test_related_lists_fill_with_same_type_then_vendor_then_trending_never_ineligible_or_self():
    related, products, popularity = related_input()
    out = product_recommendations(related, products, popularity, k=4)
    a = out.loc[out["product_id"] == "a"].sort_values("rank")
    # b is a model neighbour; x is ineligible; c's zero score was the model's fill: same type (mug) refills it
    assert list(zip(a["related_product_id"], a["source"], strict=True)) == [
        ("b", "model"), ("c", "same_type"), ("f", "same_vendor"), ("d", "trending")]
    lonely = out.loc[out["product_id"] == "lonely"].sort_values("rank")
    assert lonely["related_product_id"].tolist() == ["d", "e", "a", "b"]
    assert lonely["source"].tolist() == ["same_type", "same_type", "trending", "trending"]
    assert out.groupby("product_id").size().eq(4).all() and set(out["product_id"]) == set(products["product_id"])
    assert not out["related_product_id"].eq("x").any() and not (out["product_id"] == out["related_product_id"]).any()
    assert out.groupby("product_id")["rank"].apply(lambda r: r.tolist() == [1, 2, 3, 4]).all()


def test_related_products_of_the_related_model_stay_full_with_a_third_of_the_catalogue_ineligible():
    store = make_store(n_customers=300, n_products=90, seed=7)
    related = RelatedProductsModel().fit(store.order_lines).related_products(30)
    ids = sorted(store.order_lines["product_id"].dropna().unique())
    rng = np.random.default_rng(0)
    products = pd.DataFrame({"product_id": ids, "product_type": rng.choice(["a", "b", "c"], len(ids)),
                             "vendor": "v", "is_eligible": rng.random(len(ids)) > 0.33})
    out = product_recommendations(related, products, pd.Series(dtype=float), k=10)
    assert out.groupby("product_id").size().eq(10).all()
    assert out["related_product_id"].isin(products.loc[products["is_eligible"], "product_id"]).all()
    assert (out["source"] == "model").mean() > 0.5


def test_list_overlap_between_two_rankings():
    a = pd.DataFrame({"c": ["1"] * 2 + ["2"] * 2, "p": ["x", "y", "x", "y"], "rank": [1, 2, 1, 2]})
    b = pd.DataFrame({"c": ["1"] * 2 + ["2"] * 2, "p": ["x", "y", "y", "z"], "rank": [1, 2, 1, 2]})
    agreement = list_overlap(a, b, "c", "p", k=2)
    assert agreement == {"owners": 2, "overlap": pytest.approx(0.75), "differ_share": pytest.approx(0.5)}


def test_for_you_lists_only_eligible_products_the_customer_never_bought_in_the_model_order():
    from storeloop.recsys.scoring import discovery_recommendations

    store = make_store(n_customers=150, n_products=40, seed=7)
    lines = store.order_lines
    model = ItemKNNRecommender().fit(lines)
    banned = set(model.products_[:5])
    eligible = [p for p in model.products_ if p not in banned]
    recs = discovery_recommendations(model, lines, eligible, k=6)
    assert set(recs["source"]) == {"model"} and not recs["product_id"].isin(banned).any()
    bought = lines.loc[~lines["is_cancelled"].fillna(False).astype(bool)] if "is_cancelled" in lines else lines
    pairs = set(zip(bought["customer_id"].astype(str), bought["product_id"].astype(str), strict=True))
    assert not any((c, p) in pairs for c, p in zip(recs["customer_id"], recs["product_id"], strict=True))
    assert recs.groupby("customer_id")["rank"].agg(list).map(lambda r: r == list(range(1, len(r) + 1))).all()
    # the order is the model's own ranking with the bought and ineligible products taken out
    one = recs["customer_id"].iloc[0]
    full = score_customers(model, lines.loc[lines["customer_id"].astype(str) == one], k=len(model.products_))
    expected = [p for p in full.sort_values("rank")["product_id"] if p not in banned and (one, p) not in pairs][:6]
    assert recs.loc[recs["customer_id"] == one].sort_values("rank")["product_id"].tolist() == expected
