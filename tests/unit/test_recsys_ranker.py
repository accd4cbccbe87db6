"""The learned ranker (recsys/ranker.py) on hand-made feature tables with a planted signal."""

import numpy as np
import pandas as pd
import pytest
from support.ranker_tables import staples_store, tables_as_of

from storeloop.recsys.protocol import evaluate_model, evaluation_data
from storeloop.recsys.ranker import (
    FEATURE_GROUPS,
    LearnedRanker,
    RankerDataError,
    bound_recommend,
    feature_tables,
    training_cutoffs,
)
from storeloop.recsys.split import time_split
from storeloop.recsys.tifu_knn import TIFUKNNRecommender


@pytest.fixture(scope="module")
def store():
    lines, types, staples = staples_store()
    split = time_split(lines, holdout_days=30)
    train_at, cutoff = training_cutoffs(split.cutoff, 30)
    naive = lambda ts: ts.tz_convert("UTC").tz_localize(None)  # noqa: E731 - the lines are naive UTC
    at_t, at_c = tables_as_of(lines, types, naive(train_at)), tables_as_of(lines, types, naive(cutoff))
    ranker = LearnedRanker(n_estimators=30, min_child_samples=20, seed=0).fit(split.train, at_t)
    return {"lines": lines, "staples": staples, "split": split, "at_t": at_t, "at_c": at_c, "ranker": ranker}


def test_the_ranker_learns_what_the_history_alone_does_not_say(store):
    # before the examples' cutoff staples and others were bought alike; after it only staples: the product type tells
    data = evaluation_data(store["split"])
    ranker = evaluate_model(bound_recommend(store["ranker"], store["at_c"]), data, 3).metrics
    tifu = evaluate_model(TIFUKNNRecommender().fit(store["split"].train).recommend, data, 3).metrics
    assert ranker["all.precision_at_3"] > 0.95
    assert ranker["all.ndcg_at_3"] > tifu["all.ndcg_at_3"]  # TIFU sees the staples only in the recent baskets
    recs = store["ranker"].recommend(data.history, 3, features=store["at_c"])
    hits = recs.apply(lambda r: r["product_id"] in store["staples"][r["customer_id"]], axis=1)
    assert hits.mean() > 0.95


def test_same_data_and_seed_give_the_same_lists_and_importance(store):
    again = LearnedRanker(n_estimators=30, min_child_samples=20, seed=0).fit(store["split"].train, store["at_t"])
    history = store["split"].train
    first = store["ranker"].recommend(history, 5, features=store["at_c"])
    pd.testing.assert_frame_equal(first, again.recommend(history, 5, features=store["at_c"]))
    pd.testing.assert_series_equal(store["ranker"].importance_, again.importance_)
    assert store["ranker"].importance_["product_type"] > 0  # the dbt product type reaches the booster


def test_excluded_products_never_appear_and_lists_stay_full(store):
    history = store["split"].train
    recs = store["ranker"].recommend(history, 10, exclude=["p00", "p01"], features=store["at_c"])
    assert not recs["product_id"].isin(["p00", "p01"]).any()
    assert recs.groupby("customer_id").size().eq(10).all()


def test_a_feature_group_can_be_left_out_and_unknown_groups_are_refused(store):
    ranker = LearnedRanker(n_estimators=10, min_child_samples=20, drop_groups=("product",))
    assert not set(FEATURE_GROUPS["product"]) & set(ranker.feature_names)
    ranker.fit(store["split"].train, store["at_t"])
    assert "product_type" not in ranker.importance_.index
    with pytest.raises(ValueError, match="unknown feature group"):
        LearnedRanker(drop_groups=("weather",))


def test_too_little_history_is_a_ranker_data_error(store):
    few = store["split"].train.loc[store["split"].train["customer_id"].isin(["c000", "c001"])]
    with pytest.raises(RankerDataError, match="at least 20"):
        LearnedRanker().fit(few, store["at_t"])
    with pytest.raises(RankerDataError, match="too short"):
        LearnedRanker().fit(few.loc[few["ordered_at"] <= pd.Timestamp("2026-01-05")], store["at_t"])


def test_features_are_required_and_checked(store):
    with pytest.raises(ValueError, match="feature tables as of now"):
        store["ranker"].recommend(store["split"].train, 3)
    with pytest.raises(ValueError, match="evaluation cutoff"):
        bound_recommend(store["ranker"], None)
    frames = {"customer_features": store["at_c"].customers.drop(columns="frequency"),
              "product_features": store["at_c"].products, "fct_customer_product_interactions": store["at_c"].pairs,
              "product_co_purchase": store["at_c"].co_purchase}
    with pytest.raises(ValueError, match=r"customer_features lacks column\(s\) \['frequency'\]"):
        feature_tables(frames, store["at_c"].as_of)


def test_training_cutoffs_are_utc_and_a_label_window_apart():
    train_at, cutoff = training_cutoffs(pd.Timestamp("2026-03-01 12:00"), 30)
    assert str(cutoff.tz) == "UTC" and cutoff - train_at == pd.Timedelta(days=30)
    assert np.isclose((cutoff - pd.Timestamp("2026-03-01 12:00", tz="UTC")).total_seconds(), 0)
