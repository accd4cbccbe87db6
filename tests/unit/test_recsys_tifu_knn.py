"""TIFU-KNN (recsys/tifu_knn.py): the decayed personal baskets, hand-computed, and the neighbour mix."""

import numpy as np
import pandas as pd
import pytest

from storeloop.recsys.models import CustomerHistory, Recommender
from storeloop.recsys.tifu_knn import TIFUKNNRecommender, pif_vectors
from storeloop.recsys.topk import top_n_positive

DAY = pd.Timedelta(days=1)
T0 = pd.Timestamp("2026-10-01")


def lines(rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    """(customer, product, day) -> order lines; the lines of one customer and day are one basket."""
    return pd.DataFrame({"customer_id": [c for c, _, _ in rows], "product_id": [p for _, p, _ in rows],
                         "quantity": 1, "ordered_at": [T0 + d * DAY for _, _, d in rows]})


def test_pif_vector_hand_computed():
    # baskets newest first: day 3 {A} (group 0, position 0, weight 1), day 2 {A, B} (group 0, position 1: 0.5),
    # day 1 {B, B} (group 1, position 0: 0.25; B twice in one basket counts once); 2 groups of size 2 -> / 4
    history = CustomerHistory.from_lines(lines([("c", "A", 3), ("c", "A", 2), ("c", "B", 2), ("c", "B", 1),
                                                ("c", "B", 1)]))
    vectors = pif_vectors(history, np.array(["A", "B", "C"]), group_size=2, within_decay=0.5, group_decay=0.25)
    assert vectors.toarray().tolist() == [[pytest.approx(1.5 / 4), pytest.approx(0.75 / 4), 0.0]]


def test_a_partial_oldest_group_and_unknown_products():
    # three baskets, group size 2: the newest two form group 0, the oldest alone group 1; Z is not a known product
    history = CustomerHistory.from_lines(lines([("c", "A", 1), ("c", "Z", 2), ("c", "A", 3)]))
    vectors = pif_vectors(history, np.array(["A"]), group_size=2, within_decay=0.5, group_decay=0.5)
    assert vectors.toarray()[0, 0] == pytest.approx((1.0 + 0.5) / 4)  # day 3 (1) + day 1 (group 1: 0.5)


# c1 and c2 share A and B, c2 also bought C; c3 only D
TRAIN = lines([("c1", "A", 1), ("c1", "B", 1), ("c2", "A", 1), ("c2", "B", 1), ("c2", "C", 1), ("c3", "D", 1)])


def test_the_neighbour_part_comes_from_the_most_similar_other_customer_never_oneself():
    model = TIFUKNNRecommender(group_size=1, n_neighbors=1, alpha=0.5).fit(TRAIN)
    recs = model.recommend(TRAIN.loc[TRAIN["customer_id"] == "c1"], k=4)
    scores = dict(zip(recs["product_id"], recs["score"], strict=True))
    # own vector: A = B = 1; neighbour c2 (cosine 2/sqrt(6); c1 itself excluded): A = B = C = 1
    assert scores["A"] == pytest.approx(1.0) and scores["B"] == pytest.approx(1.0)
    assert scores["C"] == pytest.approx(0.5)
    assert recs["product_id"].tolist()[:3] == ["A", "B", "C"]
    assert recs["product_id"].tolist()[3] == "D"  # popularity fill: score 0


def test_a_customer_unknown_to_training_gets_neighbours_too():
    model = TIFUKNNRecommender(group_size=1, n_neighbors=1, alpha=0.5).fit(TRAIN)
    recs = model.recommend(lines([("new", "C", 5)]), k=2)
    assert recs["product_id"].tolist() == ["C", "A"]  # own C (0.5 + neighbour c2's 0.5), then c2's A (ties by id)
    assert recs["score"].tolist() == [pytest.approx(1.0), pytest.approx(0.5)]


def test_excluded_products_are_removed_before_the_cut_and_lists_stay_full():
    model = TIFUKNNRecommender(group_size=1, n_neighbors=2).fit(TRAIN)
    recs = model.recommend(TRAIN.loc[TRAIN["customer_id"] == "c1"], k=3, exclude=["A"])
    assert "A" not in set(recs["product_id"]) and len(recs) == 3


def test_deterministic_and_a_recommender():
    model = TIFUKNNRecommender().fit(TRAIN)
    assert isinstance(model, Recommender) and model.name == "tifu_knn"
    first, second = model.recommend(TRAIN, k=3), model.recommend(TRAIN, k=3)
    pd.testing.assert_frame_equal(first, second)
    assert set(model.get_params()) == {"group_size", "within_decay", "group_decay", "n_neighbors", "alpha",
                                       "popularity_window_days", "max_pool", "seed"}


def test_top_n_positive_ties_by_the_lower_column_and_never_a_non_positive_value():
    dense = np.array([[0.5, 0.9, 0.5, 0.5, 0.0], [0.0, 0.0, 0.2, 0.0, 0.0]])
    rows, cols = top_n_positive(dense, 3)
    assert list(zip(rows.tolist(), cols.tolist(), strict=True)) == [(0, 0), (0, 1), (0, 2), (1, 2)]


def test_the_neighbour_pool_is_a_seeded_sample_when_capped():
    many = lines([(f"c{i:02d}", p, 1) for i in range(20) for p in ("A", "B")])
    model = TIFUKNNRecommender(max_pool=5, seed=3).fit(many)
    again = TIFUKNNRecommender(max_pool=5, seed=3).fit(many)
    assert len(model.train_customers_) == 5 and list(model.train_customers_) == list(again.train_customers_)
    assert model.recommend(many, k=2)["product_id"].isin(["A", "B"]).all()


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="group_size and n_neighbors"):
        TIFUKNNRecommender(group_size=0)
    with pytest.raises(ValueError, match="alpha"):
        TIFUKNNRecommender(alpha=1.5)
    with pytest.raises(RuntimeError, match="not fitted"):
        TIFUKNNRecommender().recommend(TRAIN)
