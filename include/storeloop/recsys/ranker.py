"""Two-stage recommender: candidate generators, then a learned ranker over (customer, candidate) pairs whose features
are the dbt feature models (`FeatureTables`), read as of one cutoff.

Stage 1, candidates per customer (each generator's score kept as a feature, absent = missing):

- `own`: every product the customer bought by the cutoff (`fct_customer_product_interactions`);
- `tifu`: the top `n_candidates` of TIFU-KNN (personal decayed baskets + similar customers, `recsys/tifu_knn.py`);
- `item_knn`: the top `n_candidates` of item-to-item CF (BM25) over the customer's history;
- `co_purchase`: the products most often bought in the same order as the customer's 20 strongest products
  (`product_co_purchase`: summed confidence; the mean lift to those products is a feature too);
- `trending`: the `n_trending` products with the most units in the last 7 days (`product_features`).

Stage 2, a LightGBM lambdarank model (seeded, deterministic, two threads) over the union, with the customer's
features (`customer_features`), the product's (`product_features`, its type as a category), the pair's
(`fct_customer_product_interactions`) and the generators' scores and ranks. Feature groups are named in
`FEATURE_GROUPS` (the ablation drops one group at a time).

Training examples: the generators are fitted on the lines up to the training features' cutoff `T`
(`FeatureTables.as_of`), the candidates and features are those as of `T`, and a candidate is positive when the customer
bought it in the `label_days` after `T`. The generators are then refitted on every line given to `fit`, so the model
that is evaluated and registered uses all history up to its own cutoff, and `recommend` reads features as of "now"
(whatever `FeatureTables` it is given). No feature is computed here: the tables are read as dbt built them; this
module only joins them to the candidates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp

from storeloop.recsys.interactions import as_utc, empty_recommendations, prepare_history
from storeloop.recsys.models import ItemKNNRecommender, Recommender
from storeloop.recsys.tifu_knn import TIFUKNNRecommender
from storeloop.recsys.topk import blockwise_sparse_top_k_frame, keep_top_n_per_row, priority_order

CUSTOMER_COLUMNS: tuple[str, ...] = ("recency_days", "frequency", "tenure_days", "monetary", "average_order_value",
                                     "orders_last_90d", "n_distinct_products")
PRODUCT_COLUMNS: tuple[str, ...] = ("price", "units_7d", "units_30d", "units_90d", "trend_30d", "customers_90d",
                                    "days_since_last_sale")
PAIR_COLUMNS: tuple[str, ...] = ("n_orders", "quantity", "days_since_last_purchase", "repurchase_interval_days",
                                 "recency_weighted_strength", "order_share")
GENERATOR_COLUMNS: tuple[str, ...] = ("tifu_score", "tifu_rank", "item_knn_score", "item_knn_rank",
                                      "co_purchase_confidence", "co_purchase_lift", "trending_rank")
FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "customer": CUSTOMER_COLUMNS,
    "product": (*PRODUCT_COLUMNS, "product_type"),
    "pair": PAIR_COLUMNS,
    "generators": GENERATOR_COLUMNS,
}
CO_PURCHASE_PARTNERS = 50  # partners kept per product (highest confidence) for the co_purchase generator
CO_PURCHASE_SEEDS = 20  # a customer's products (highest recency-weighted strength) whose partners are candidates
CHUNK_CUSTOMERS = 5_000  # customers whose candidates are built and scored at once (bounds memory)
MIN_TRAIN_CUSTOMERS = 20  # customers with a labelled purchase below which no ranker is learned
LABEL_DAYS = 30  # the examples' label window (T, T + LABEL_DAYS]; T = the evaluation cutoff - LABEL_DAYS


class RankerDataError(ValueError):
    """Too little history to learn a ranker (recommender_train then skips the candidate and says why)."""


@dataclass(frozen=True)
class FeatureTables:
    """The dbt feature models as of one cutoff (the model's only inputs besides the purchase history)."""

    as_of: pd.Timestamp
    customers: pd.DataFrame  # marts.customer_features: customer_id + CUSTOMER_COLUMNS
    products: pd.DataFrame  # marts.product_features: product_id, product_type + PRODUCT_COLUMNS
    pairs: pd.DataFrame  # marts.fct_customer_product_interactions: customer_id, product_id + PAIR_COLUMNS
    co_purchase: pd.DataFrame  # marts.product_co_purchase: product_id, other_product_id, lift, confidence
    source: dict[str, str] = field(default_factory=dict)  # where they were read (schema, dbt invocation)


@dataclass(frozen=True)
class RankerFeatures:
    """What recommender_train gives the ranker: the feature models as of its training cutoff T (examples labelled by
    the `label_days` after T) and as of the evaluation cutoff C (the start of the holdout)."""

    at_train: FeatureTables
    at_cutoff: FeatureTables


def training_cutoffs(cutoff: pd.Timestamp, label_days: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """(T, C) as tz-aware UTC: the ranker's examples are as of T = C - `label_days`."""
    c = as_utc(cutoff)
    return c - pd.Timedelta(days=label_days), c


def bound_recommend(recommender: Recommender, features: FeatureTables | None):
    """`recommend(history, k)` for the evaluation protocol: with `features` for a model that needs them."""
    if not getattr(recommender, "needs_features", False):
        return recommender.recommend
    if features is None:
        raise ValueError(f"{recommender.name} ranks on the dbt feature models: pass the feature tables as of the "
                         "evaluation cutoff")

    def recommend(history: pd.DataFrame, k: int) -> pd.DataFrame:
        return recommender.recommend(history, k, features=features)

    return recommend


FEATURE_MODELS: dict[str, tuple[str, ...]] = {
    "customer_features": ("customer_id", *CUSTOMER_COLUMNS),
    "product_features": ("product_id", "product_type", *PRODUCT_COLUMNS),
    "fct_customer_product_interactions": ("customer_id", "product_id", *PAIR_COLUMNS),
    "product_co_purchase": ("product_id", "other_product_id", "lift", "confidence"),
}  # the dbt models the ranker reads, and their columns
FEATURE_READ_LIMITS: dict[str, tuple[str, str, int]] = {
    "product_co_purchase": ("product_id", "confidence", CO_PURCHASE_PARTNERS),
}  # the rows the ranker uses of a model: (key, order column, n) = the top n per key (warehouse/feature_tables.py)


def feature_tables(frames: dict[str, pd.DataFrame], as_of: pd.Timestamp,
                   source: dict[str, str] | None = None) -> FeatureTables:
    """`FeatureTables` from the frames read for `FEATURE_MODELS` (warehouse/feature_tables.read_feature_models)."""
    tables = FeatureTables(as_of=pd.Timestamp(as_of), customers=frames["customer_features"],
                           products=frames["product_features"], pairs=frames["fct_customer_product_interactions"],
                           co_purchase=frames["product_co_purchase"], source=source or {})
    check_feature_tables(tables)
    return tables


def _require(frame: pd.DataFrame, columns: Iterable[str], table: str) -> None:
    missing = sorted(set(columns) - set(frame.columns))
    if missing:
        raise ValueError(f"{table} lacks column(s) {missing}: rebuild the dbt feature models (shopify_features)")


def check_feature_tables(tables: FeatureTables) -> None:
    _require(tables.customers, ("customer_id", *CUSTOMER_COLUMNS), "customer_features")
    _require(tables.products, ("product_id", "product_type", *PRODUCT_COLUMNS), "product_features")
    _require(tables.pairs, ("customer_id", "product_id", *PAIR_COLUMNS), "fct_customer_product_interactions")
    _require(tables.co_purchase, ("product_id", "other_product_id", "lift", "confidence"), "product_co_purchase")


class _Index:
    """Customers and products of one candidate build, numbered; `key = customer_row * n_products + product_col`."""

    def __init__(self, customers: np.ndarray, products: np.ndarray) -> None:
        self.customers = customers
        self.products = products
        self.customer_pos = pd.Index(customers)
        self.product_pos = pd.Index(products)

    def keys(self, customer_ids: pd.Series, product_ids: pd.Series) -> np.ndarray:
        rows = self.customer_pos.get_indexer(customer_ids.astype(str))
        cols = self.product_pos.get_indexer(product_ids.astype(str))
        ok = (rows >= 0) & (cols >= 0)
        return np.where(ok, rows.astype(np.int64) * len(self.products) + cols, -1)


def _sparse_keys(matrix: sp.csr_matrix, n_products: int) -> tuple[np.ndarray, np.ndarray]:
    coo = matrix.tocoo()
    return coo.row.astype(np.int64) * n_products + coo.col, coo.data


def _ranked(frame: pd.DataFrame, index: _Index) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """keys, scores and ranks of a `recommend` frame."""
    return (index.keys(frame["customer_id"], frame["product_id"]), frame["score"].to_numpy(np.float64),
            frame["rank"].to_numpy(np.float64))


class LearnedRanker(Recommender):
    """Candidates from several generators, ranked by LightGBM lambdarank on the dbt features (module docstring)."""

    name = "ranker"
    fitted_attribute = "booster_"
    needs_features = True

    def __init__(self, n_candidates: int = 50, n_trending: int = 20, label_days: int = LABEL_DAYS,
                 n_estimators: int = 100, learning_rate: float = 0.05, num_leaves: int = 15, min_child_samples: int = 100,
                 max_train_customers: int = 20_000, seed: int = 0,
                 drop_groups: tuple[str, ...] = ()) -> None:
        unknown = set(drop_groups) - set(FEATURE_GROUPS)
        if unknown:
            raise ValueError(f"unknown feature group(s) {sorted(unknown)}; known: {sorted(FEATURE_GROUPS)}")
        self.n_candidates = n_candidates
        self.n_trending = n_trending
        self.label_days = label_days
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.max_train_customers = max_train_customers
        self.seed = seed
        self.drop_groups = tuple(drop_groups)

    def get_params(self) -> dict[str, Any]:
        return {"n_candidates": self.n_candidates, "n_trending": self.n_trending, "label_days": self.label_days,
                "n_estimators": self.n_estimators, "learning_rate": self.learning_rate,
                "num_leaves": self.num_leaves, "min_child_samples": self.min_child_samples,
                "max_train_customers": self.max_train_customers, "seed": self.seed,
                "drop_groups": ",".join(self.drop_groups)}

    @property
    def feature_names(self) -> list[str]:
        return [c for g, cols in FEATURE_GROUPS.items() if g not in self.drop_groups for c in cols]

    # ------------------------------------------------------------------------------------------------ generators

    def _fit_generators(self, lines: pd.DataFrame) -> None:
        self.tifu_ = TIFUKNNRecommender().fit(lines)
        self.item_knn_ = ItemKNNRecommender(n_neighbors=50, half_life_days=90.0, weighting="bm25").fit(lines)
        self.popularity_ = self.tifu_.popularity_
        self.products_ = self.tifu_.products_
        self.as_of_ = self.tifu_.as_of_

    def _co_purchase_matrices(self, tables: FeatureTables) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """products x products confidence (top partners per product) and lift on the same cells."""
        co = tables.co_purchase
        pos = pd.Index(self.products_)
        rows, cols = pos.get_indexer(co["product_id"].astype(str)), pos.get_indexer(co["other_product_id"].astype(str))
        ok = (rows >= 0) & (cols >= 0)
        shape = (len(self.products_), len(self.products_))
        confidence = sp.csr_matrix((co["confidence"].to_numpy(np.float64)[ok], (rows[ok], cols[ok])), shape=shape)
        confidence = keep_top_n_per_row(confidence, CO_PURCHASE_PARTNERS)
        lift = sp.csr_matrix((co["lift"].to_numpy(np.float64)[ok], (rows[ok], cols[ok])), shape=shape)
        lift = lift.multiply(confidence > 0).tocsr()
        return confidence, lift

    def _candidates(self, history: pd.DataFrame, customers: np.ndarray, tables: FeatureTables,
                    co: tuple[sp.csr_matrix, sp.csr_matrix], trending: np.ndarray) -> pd.DataFrame:
        """One row per (customer, candidate product) with every feature column (missing = NaN), sorted by customer."""
        index = _Index(customers, self.products_)
        n_products = len(self.products_)
        columns: dict[str, tuple[np.ndarray, np.ndarray]] = {}

        tifu = self.tifu_.recommend(history, self.n_candidates)
        keys, scores, ranks = _ranked(tifu, index)
        columns["tifu_score"], columns["tifu_rank"] = (keys, scores), (keys, ranks)
        knn = self.item_knn_.recommend(history, self.n_candidates)
        keys, scores, ranks = _ranked(knn, index)
        columns["item_knn_score"], columns["item_knn_rank"] = (keys, scores), (keys, ranks)

        pairs = tables.pairs.loc[tables.pairs["customer_id"].isin(customers)]
        pair_keys = index.keys(pairs["customer_id"], pairs["product_id"])
        known = pair_keys >= 0
        pairs, pair_keys = pairs.loc[known], pair_keys[known]
        for name in PAIR_COLUMNS:
            columns[name] = (pair_keys, pairs[name].to_numpy(np.float64))

        # co-purchase partners of the customer's strongest products (from the pairs table: as of the features)
        strength = pairs["recency_weighted_strength"].to_numpy(np.float64)
        order = np.lexsort((-strength, pair_keys // n_products))
        seeds = order[pd.Series(pair_keys[order] // n_products).groupby(pair_keys[order] // n_products)
                      .cumcount().to_numpy() < CO_PURCHASE_SEEDS]
        owned = sp.csr_matrix((np.ones(len(seeds)), (pair_keys[seeds] // n_products, pair_keys[seeds] % n_products)),
                              shape=(len(customers), n_products))
        confidence, lift = co
        conf_scores = keep_top_n_per_row((owned @ confidence).tocsr(), self.n_candidates)
        keys, values = _sparse_keys(conf_scores, n_products)
        columns["co_purchase_confidence"] = (keys, values)
        n_owned = np.maximum(np.asarray(owned.sum(axis=1)).ravel(), 1.0)
        mean_lift = (sp.diags(1.0 / n_owned) @ (owned @ lift)).tocsr().multiply(conf_scores > 0).tocsr()
        columns["co_purchase_lift"] = _sparse_keys(mean_lift, n_products)

        t_rows = np.repeat(np.arange(len(customers), dtype=np.int64), len(trending))
        t_keys = t_rows * n_products + np.tile(trending, len(customers))
        columns["trending_rank"] = (t_keys, np.tile(np.arange(1, len(trending) + 1, dtype=np.float64),
                                                     len(customers)))

        union = np.unique(np.concatenate([k[k >= 0] for k, _ in columns.values()]))
        frame = pd.DataFrame({"key": union})
        for name, (k, v) in columns.items():  # each generator names a (customer, product) once
            ok = k >= 0
            values = np.full(len(union), np.nan)
            values[np.searchsorted(union, k[ok])] = v[ok]
            frame[name] = values
        rows, cols = union // n_products, union % n_products
        frame["customer_row"], frame["product_col"] = rows, cols

        cust = tables.customers.set_index(tables.customers["customer_id"].astype(str))
        cust = cust.reindex(customers)
        for name in CUSTOMER_COLUMNS:
            frame[name] = pd.to_numeric(cust[name], errors="coerce").to_numpy(np.float64)[rows]
        prod = tables.products.set_index(tables.products["product_id"].astype(str)).reindex(self.products_)
        for name in PRODUCT_COLUMNS:
            frame[name] = pd.to_numeric(prod[name], errors="coerce").to_numpy(np.float64)[cols]
        type_codes = pd.Index(self.product_types_).get_indexer(prod["product_type"].fillna("").astype(str))
        frame["product_type"] = np.where(type_codes >= 0, type_codes, np.nan)[cols]
        return frame

    def _features_of(self, frame: pd.DataFrame) -> np.ndarray:
        return frame[self.feature_names].to_numpy(np.float32)

    def _build(self, history: pd.DataFrame, tables: FeatureTables):
        """Yield (customers, candidate frame) chunk by chunk for the customers in `history`."""
        h = prepare_history(history)
        customers = np.asarray(pd.unique(h["customer_id"]), dtype=object)
        customers.sort()
        co = self._co_purchase_matrices(tables)
        units = tables.products.set_index(tables.products["product_id"].astype(str)).reindex(self.products_)
        units_7d = pd.to_numeric(units["units_7d"], errors="coerce").fillna(0).to_numpy()
        # most units in 7 days, then the model's popularity, then product id
        trending = np.lexsort((np.arange(len(units_7d)), -self.popularity_.scores_, -units_7d))[: self.n_trending]
        by_customer = h.groupby("customer_id", sort=False).indices
        for start in range(0, len(customers), CHUNK_CUSTOMERS):
            chunk = customers[start:start + CHUNK_CUSTOMERS]
            rows = np.concatenate([by_customer[c] for c in chunk])
            yield chunk, self._candidates(h.iloc[rows], chunk, tables, co, trending)

    # ------------------------------------------------------------------------------------------------ fit

    def fit(self, interactions: pd.DataFrame, train_features: FeatureTables | None = None) -> Self:
        """Fit on `interactions` (lines up to the model's cutoff) and the feature tables as of an earlier cutoff `T`
        (`train_features.as_of`): examples are candidates as of `T`, labelled by the purchases in the `label_days`
        after `T`."""
        import lightgbm as lgb

        if train_features is None:
            raise ValueError("LearnedRanker.fit needs the feature tables as of the training cutoff (train_features)")
        check_feature_tables(train_features)
        df = self._training_history(interactions)
        t = as_utc(train_features.as_of).tz_localize(None)  # the history's timestamps are naive UTC
        before, after = df.loc[df["ordered_at"] <= t], df.loc[
            (df["ordered_at"] > t) & (df["ordered_at"] <= t + pd.Timedelta(days=self.label_days))]
        if before.empty or after.empty:
            raise RankerDataError(f"no purchases before or in the {self.label_days} days after the ranker's training "
                                  f"cutoff {t:%Y-%m-%d}: the history is too short to learn a ranker")
        self.product_types_ = np.asarray(sorted(train_features.products["product_type"].fillna("").astype(str)
                                                .unique()), dtype=object)
        self._fit_generators(before)
        rng = np.random.default_rng(self.seed)
        learners = np.asarray(sorted(set(after["customer_id"]) & set(before["customer_id"])), dtype=object)
        if len(learners) > self.max_train_customers:
            learners = np.sort(rng.choice(learners, self.max_train_customers, replace=False))
        history = before.loc[before["customer_id"].isin(learners)]
        xs, ys, groups = [], [], []
        for chunk, frame in self._build(history, train_features):
            bought = _Index(chunk, self.products_).keys(after["customer_id"], after["product_id"])
            label = np.isin(frame["key"].to_numpy(), bought[bought >= 0])
            has_positive = pd.Series(label).groupby(frame["customer_row"].to_numpy()).transform("any").to_numpy()
            frame, label = frame.loc[has_positive], label[has_positive]
            xs.append(self._features_of(frame))
            ys.append(label.astype(np.int32))
            groups.append(frame.groupby("customer_row", sort=True).size().to_numpy())
        if sum(len(g) for g in groups) < MIN_TRAIN_CUSTOMERS:
            raise RankerDataError(
                f"only {sum(len(g) for g in groups)} customers bought one of their candidates in the {self.label_days} "
                f"days after {t:%Y-%m-%d} (at least {MIN_TRAIN_CUSTOMERS} are needed to learn a ranker)")
        x, y, group = np.vstack(xs), np.concatenate(ys), np.concatenate(groups)
        self.n_train_rows_, self.n_train_groups_ = len(y), len(group)
        ranker = lgb.LGBMRanker(
            objective="lambdarank", n_estimators=self.n_estimators, learning_rate=self.learning_rate,
            num_leaves=self.num_leaves, min_child_samples=self.min_child_samples, subsample=0.8, subsample_freq=1,
            colsample_bytree=0.8, random_state=self.seed, n_jobs=2, deterministic=True, force_row_wise=True,
            verbose=-1, lambdarank_truncation_level=20,
        )
        categorical = [self.feature_names.index("product_type")] if "product_type" in self.feature_names else []
        ranker.fit(x, y, group=group, feature_name=self.feature_names, categorical_feature=categorical or "auto")
        self.booster_ = ranker.booster_
        self.importance_ = pd.Series(self.booster_.feature_importance("gain"), index=self.feature_names)
        self._fit_generators(df)  # the model that is evaluated and registered knows all history up to its cutoff
        return self

    # ------------------------------------------------------------------------------------------------ scoring

    def recommend(self, history: pd.DataFrame, k: int = 10, exclude: Iterable[str] | None = None,
                  features: FeatureTables | None = None) -> pd.DataFrame:
        """Top `k` per customer: candidates ranked by the booster, then popular products (never a bought-by-nobody
        fill) for customers with fewer than `k` candidates."""
        self._check_fitted()
        if features is None:
            raise ValueError("LearnedRanker.recommend needs the feature tables as of now (features)")
        check_feature_tables(features)
        allowed = self.allowed_mask(exclude)
        order = priority_order(self._tiebreak())
        order = order[allowed[order]]
        frames = []
        for chunk, frame in self._build(history, features):
            if frame.empty:
                continue
            score = self.booster_.predict(self._features_of(frame), num_threads=2)
            # non-negative, order-preserving, > 0 for every candidate (0 means "not a candidate" to the top-k)
            positive = np.exp(np.clip(score - score.max(), -700, 0)) + 1e-300
            matrix = sp.csr_matrix((positive, (frame["customer_row"].to_numpy(), frame["product_col"].to_numpy())),
                                   shape=(len(chunk), len(self.products_)))
            if not allowed.all():
                matrix.data[~allowed[matrix.indices]] = 0.0
                matrix.eliminate_zeros()
            frames.append(blockwise_sparse_top_k_frame(chunk, self.products_, lambda a, b, m=matrix: m[a:b],
                                                       order, k))
        return pd.concat(frames, ignore_index=True) if frames else empty_recommendations()

    def related_products(self, k: int = 5) -> pd.DataFrame:
        self._check_fitted()
        return self.item_knn_.related_products(k)
