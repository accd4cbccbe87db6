"""Product recommenders: a popularity baseline and an item-item kNN model.

Both share one interface:

- `fit(interactions)` on a purchase history (`customer_id, product_id, quantity, ordered_at`),
- `recommend(history, k)` -> DataFrame `customer_id, product_id, rank, score` (top `k` per customer in `history`),
- `related_products(k)` -> DataFrame `product_id, related_product_id, rank, score` (for every product seen in fit).

Scoring is vectorised over customers (dense blocks of at most ~4M cells), so thousands of customers times hundreds of
products score in milliseconds. Ties are broken by popularity, then by product id, so results are deterministic.
"""

from __future__ import annotations

from typing import Any, Protocol, Self, runtime_checkable

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from storeloop.recsys.interactions import (
    empty_recommendations,
    empty_related,
    prepare_history,
    recency_weights,
)

_MAX_DENSE_CELLS = 4_000_000


@runtime_checkable
class Recommender(Protocol):
    name: str

    def fit(self, interactions: pd.DataFrame) -> Self: ...

    def recommend(self, history: pd.DataFrame, k: int = 10) -> pd.DataFrame: ...

    def related_products(self, k: int = 5) -> pd.DataFrame: ...

    def get_params(self) -> dict[str, Any]: ...


def _top_k(primary: np.ndarray, tiebreak: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the `k` largest `primary` entries per row, ties broken by `tiebreak` then by column.

    `primary` is (n_rows, n_items) with -inf marking items that must not be returned; `tiebreak` is (n_items,).
    """
    k_eff = min(k, primary.shape[1])
    secondary = np.broadcast_to(-tiebreak, primary.shape)
    # lexsort sorts by the last key first and is stable, so equal keys keep ascending column order
    order = np.lexsort((secondary, -primary), axis=1)[:, :k_eff]
    return order, np.take_along_axis(primary, order, axis=1)


def _frame(
    owners: np.ndarray, items: np.ndarray, idx: np.ndarray, values: np.ndarray, owner_col: str, item_col: str
) -> pd.DataFrame:
    n_rows, k = idx.shape
    valid = np.isfinite(values).ravel()
    return pd.DataFrame(
        {
            owner_col: np.repeat(owners, k)[valid],
            item_col: items[idx.ravel()][valid],
            "rank": np.tile(np.arange(1, k + 1, dtype=np.int64), n_rows)[valid],
            "score": values.ravel()[valid].astype(np.float64),
        }
    )


class PopularityRecommender:
    """Most purchased products in the last `window_days` before the end of the training data; same list for all.

    Score = purchases (order lines) in the window plus a fraction < 1 from all-time purchases, so products that did
    not sell in the window still rank by their all-time popularity and the score is monotone in the rank.
    """

    name = "popularity"

    def __init__(self, window_days: int = 30, exclude_purchased: bool = False) -> None:
        if window_days <= 0:
            raise ValueError(f"window_days must be positive, got {window_days}")
        self.window_days = window_days
        self.exclude_purchased = exclude_purchased

    def get_params(self) -> dict[str, Any]:
        return {"window_days": self.window_days, "exclude_purchased": self.exclude_purchased}

    def fit(self, interactions: pd.DataFrame) -> Self:
        df = prepare_history(interactions)
        if df.empty:
            raise ValueError(
                "cannot fit a recommender on an empty purchase history (no rows with customer and product)"
            )
        self.as_of_ = df["ordered_at"].max()
        total = df["product_id"].value_counts()
        self.products_ = np.array(sorted(total.index), dtype=object)
        in_window = df["ordered_at"] > self.as_of_ - pd.Timedelta(days=self.window_days)
        window = df.loc[in_window, "product_id"].value_counts()
        total_counts = total.reindex(self.products_).to_numpy(dtype=np.float64)
        window_counts = window.reindex(self.products_, fill_value=0).to_numpy(dtype=np.float64)
        self.scores_ = window_counts + total_counts / (total_counts.max() + 1.0)
        self.ranking_ = np.lexsort((np.arange(len(self.products_)), -self.scores_))
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "scores_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(interactions) first")

    def recommend(self, history: pd.DataFrame, k: int = 10) -> pd.DataFrame:
        self._check_fitted()
        h = prepare_history(history)
        if h.empty:
            return empty_recommendations()
        customers, cust_codes = np.unique(h["customer_id"].to_numpy(), return_inverse=True)
        if not self.exclude_purchased:
            top = self.ranking_[:k]
            idx = np.tile(top, (len(customers), 1))
            values = np.tile(self.scores_[top], (len(customers), 1))
            return _frame(customers, self.products_, idx, values, "customer_id", "product_id")
        prod_codes = pd.Index(self.products_).get_indexer(h["product_id"])
        known = prod_codes >= 0
        bought = sp.csr_matrix(
            (np.ones(known.sum()), (cust_codes[known], prod_codes[known])),
            shape=(len(customers), len(self.products_)),
        )
        frames = []
        for start, stop in _batches(len(customers), len(self.products_)):
            primary = np.tile(self.scores_, (stop - start, 1))
            primary[bought[start:stop].toarray() > 0] = -np.inf
            idx, values = _top_k(primary, self.scores_, k)
            frames.append(_frame(customers[start:stop], self.products_, idx, values, "customer_id", "product_id"))
        return pd.concat(frames, ignore_index=True)

    def related_products(self, k: int = 5) -> pd.DataFrame:
        """For every product: the global top list without the product itself."""
        self._check_fitted()
        n = len(self.products_)
        k_eff = min(k, n - 1)
        if k_eff <= 0:
            return empty_related()
        candidates = np.tile(self.ranking_[: k_eff + 1], (n, 1))
        not_self = candidates != np.arange(n)[:, None]
        pick = np.argsort(~not_self, axis=1, kind="stable")[:, :k_eff]
        idx = np.take_along_axis(candidates, pick, axis=1)
        return _frame(self.products_, self.products_, idx, self.scores_[idx], "product_id", "related_product_id")


class ItemKNNRecommender:
    """Item-item cosine similarity on a recency-weighted customer x product matrix.

    Each purchase weighs `0.5 ** (age_days / half_life_days)` relative to the last purchase in the data. A
    customer's score for product j is `sum_i h_i * sim(i, j)` over the products i in their (equally recency-weighted)
    history, keeping only the `n_neighbors` most similar products of each i. Products with no similarity signal are
    filled in by popularity, so every customer gets `k` products. Already-bought products stay eligible unless
    `exclude_purchased` (repeat purchases are common in stores); a product never counts as its own neighbour.
    """

    name = "item_knn"

    def __init__(
        self,
        n_neighbors: int = 50,
        half_life_days: float = 90.0,
        exclude_purchased: bool = False,
        popularity_window_days: int = 30,
    ) -> None:
        if n_neighbors <= 0 or half_life_days <= 0:
            raise ValueError("n_neighbors and half_life_days must be positive")
        self.n_neighbors = n_neighbors
        self.half_life_days = half_life_days
        self.exclude_purchased = exclude_purchased
        self.popularity_window_days = popularity_window_days

    def get_params(self) -> dict[str, Any]:
        return {
            "n_neighbors": self.n_neighbors,
            "half_life_days": self.half_life_days,
            "exclude_purchased": self.exclude_purchased,
            "popularity_window_days": self.popularity_window_days,
        }

    def fit(self, interactions: pd.DataFrame) -> Self:
        df = prepare_history(interactions)
        self.popularity_ = PopularityRecommender(window_days=self.popularity_window_days).fit(df)
        self.products_ = self.popularity_.products_
        self.as_of_ = self.popularity_.as_of_
        n_products = len(self.products_)
        cust_codes = pd.factorize(df["customer_id"])[0]
        prod_codes = pd.Index(self.products_).get_indexer(df["product_id"])
        weights = recency_weights(df["ordered_at"], self.as_of_, self.half_life_days)
        x = sp.csr_matrix((weights, (cust_codes, prod_codes)), shape=(cust_codes.max() + 1, n_products))
        x.sum_duplicates()
        x_unit = normalize(x, norm="l2", axis=0)  # unit-length product columns: x_unit.T @ x_unit is cosine
        sim = (x_unit.T @ x_unit).tocsr()
        sim.setdiag(0.0)
        sim.eliminate_zeros()
        self.similarity_ = _keep_top_n_per_row(sim, self.n_neighbors)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "similarity_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(interactions) first")

    def recommend(self, history: pd.DataFrame, k: int = 10) -> pd.DataFrame:
        self._check_fitted()
        h = prepare_history(history)
        if h.empty:
            return empty_recommendations()
        customers, cust_codes = np.unique(h["customer_id"].to_numpy(), return_inverse=True)
        prod_codes = pd.Index(self.products_).get_indexer(h["product_id"])
        known = prod_codes >= 0  # products the model never saw carry no signal
        weights = recency_weights(h["ordered_at"], h["ordered_at"].max(), self.half_life_days)
        shape = (len(customers), len(self.products_))
        hist = sp.csr_matrix((weights[known], (cust_codes[known], prod_codes[known])), shape=shape)
        hist.sum_duplicates()
        tiebreak = self.popularity_.scores_
        frames = []
        for start, stop in _batches(len(customers), len(self.products_)):
            block = hist[start:stop]
            primary = np.asarray((block @ self.similarity_).todense())
            if self.exclude_purchased:
                primary[block.toarray() > 0] = -np.inf
            idx, values = _top_k(primary, tiebreak, k)
            frames.append(_frame(customers[start:stop], self.products_, idx, values, "customer_id", "product_id"))
        return pd.concat(frames, ignore_index=True)

    def related_products(self, k: int = 5) -> pd.DataFrame:
        """For every product: its most similar products, filled up with popular ones; never the product itself."""
        self._check_fitted()
        n = len(self.products_)
        if min(k, n - 1) <= 0:
            return empty_related()
        frames = []
        for start, stop in _batches(n, n):
            primary = np.asarray(self.similarity_[start:stop].todense())
            primary[np.arange(stop - start), np.arange(start, stop)] = -np.inf
            idx, values = _top_k(primary, self.popularity_.scores_, min(k, n - 1))
            frames.append(
                _frame(self.products_[start:stop], self.products_, idx, values, "product_id", "related_product_id")
            )
        return pd.concat(frames, ignore_index=True)


def _batches(n_rows: int, n_cols: int) -> list[tuple[int, int]]:
    size = max(1, _MAX_DENSE_CELLS // max(n_cols, 1))
    return [(start, min(start + size, n_rows)) for start in range(0, n_rows, size)]


def _keep_top_n_per_row(matrix: sp.csr_matrix, n: int) -> sp.csr_matrix:
    """Zero all but the `n` largest entries of each row (ties at the cut are resolved by column order)."""
    out = matrix.tocsr(copy=True)
    for row in range(out.shape[0]):
        lo, hi = out.indptr[row], out.indptr[row + 1]
        if hi - lo > n:
            data = out.data[lo:hi]
            drop = np.argsort(-data, kind="stable")[n:]
            data[drop] = 0.0
    out.eliminate_zeros()
    return out
