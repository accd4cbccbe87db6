"""Product recommenders: two baselines (popularity, repeat purchase), item-to-item collaborative filtering (cosine or
BM25 weighting), implicit ALS (latent factors), a hybrid of repeat purchase and discovery, and a product-to-product
model for related products.

Every customer model shares one interface:

- `fit(interactions)` on a purchase history (`customer_id, product_id, quantity, ordered_at`),
- `recommend(history, k)` -> DataFrame `customer_id, product_id, rank, score` (top `k` per customer in `history`),
- `related_products(k)` -> DataFrame `product_id, related_product_id, rank, score` (for every product seen in fit).

Scoring is vectorised over customers: the customers' histories become one sparse customer x product matrix, scored
in dense blocks of at most ~4M cells (matrix products, no per-customer Python loop). Ties are broken by popularity,
then by product id, so results are deterministic, and a customer's list never depends on who else is scored with
them (recency is measured from each customer's own last purchase).
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
_SPARSE_BLOCK_ROWS = 20_000  # customers per block when scores stay sparse
_GATHER_CHUNK = 1_000_000  # nonzeros per chunk when gathering factor rows in ALS


@runtime_checkable
class Recommender(Protocol):
    name: str

    def fit(self, interactions: pd.DataFrame) -> Self: ...

    def recommend(self, history: pd.DataFrame, k: int = 10) -> pd.DataFrame: ...

    def related_products(self, k: int = 5) -> pd.DataFrame: ...

    def get_params(self) -> dict[str, Any]: ...


# --------------------------------------------------------------------------------------------------- top-k helpers


def _priority_order(tiebreak: np.ndarray) -> np.ndarray:
    """Columns sorted by descending `tiebreak`, then ascending column index."""
    return np.lexsort((np.arange(len(tiebreak)), -np.asarray(tiebreak, dtype=np.float64)))


def _top_k_in_column_order(values: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the `k` largest values per row, ties broken by the lower column index, best first.

    O(n_items) per row (partition + masks) instead of a full sort: a 20k-product catalogue stays cheap.
    """
    n_rows, n_items = values.shape
    if k >= n_items:
        cand = np.broadcast_to(np.arange(n_items), values.shape)
    else:
        kth = -np.partition(-values, k - 1, axis=1)[:, k - 1]
        above = values > kth[:, None]
        equal = values == kth[:, None]
        room = (k - above.sum(axis=1))[:, None]
        chosen = above | (equal & (np.cumsum(equal, axis=1) <= room))
        cand = np.nonzero(chosen)[1].reshape(n_rows, k)  # row-major: ascending columns within each row
    picked = np.take_along_axis(values, cand, axis=1)
    order = np.argsort(-picked, axis=1, kind="stable")
    return np.take_along_axis(cand, order, axis=1)


def _top_k(
    primary: np.ndarray, tiebreak: np.ndarray, k: int, order: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the `k` largest `primary` entries per row, ties broken by `tiebreak` then by column.

    `primary` is (n_rows, n_items) with -inf marking items that must not be returned; `tiebreak` is (n_items,).
    `order` is `_priority_order(tiebreak)` when the caller has it precomputed.
    """
    k_eff = min(k, primary.shape[1])
    if order is None:
        order = _priority_order(tiebreak)
    permuted = primary[:, order]
    idx = _top_k_in_column_order(permuted, k_eff)
    return order[idx], np.take_along_axis(permuted, idx, axis=1)


def _sparse_top_k(
    scores: sp.csr_matrix, order: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Top `k` per row of non-negative sparse scores, products without a score counting 0, as `(row, col, value,
    rank)` arrays (rank from 1), sorted by row then rank.

    Same result as `_top_k` on the dense matrix with ties in `order` (priority) order: the stored scores are sorted
    per row (one lexsort over the nonzeros), and rows with fewer than k scored products are filled with the
    highest-priority products they do not have (value 0). Cost is O(nonzeros), not O(rows x products).
    """
    s = scores.tocsr(copy=True)
    s.eliminate_zeros()
    n_rows, n_items = s.shape
    k_eff = min(k, n_items)
    position = np.empty(n_items, dtype=np.int64)
    position[order] = np.arange(n_items)
    counts = np.diff(s.indptr)
    rows = np.repeat(np.arange(n_rows), counts)
    sort = np.lexsort((position[s.indices], -s.data, rows))
    rank = np.arange(len(sort)) - s.indptr[rows]  # rows are sorted, so position within the row
    keep = rank < k_eff
    out_rows, out_cols = rows[keep], s.indices[sort][keep]
    out_vals, out_rank = s.data[sort][keep].astype(np.float64), rank[keep] + 1
    have = np.minimum(counts, k_eff)
    needy = np.flatnonzero(have < k_eff)
    if len(needy):
        width = min(n_items, 2 * k_eff)  # a row with c < k scored products has >= k - c free among the first 2k
        top = order[:width]
        free = s[needy][:, top].toarray() == 0
        free_rank = np.cumsum(free, axis=1)
        take = free & (free_rank <= (k_eff - have[needy])[:, None])
        r, j = np.nonzero(take)
        fill_rows = needy[r]
        out_rows = np.concatenate([out_rows, fill_rows])
        out_cols = np.concatenate([out_cols, top[j]])
        out_vals = np.concatenate([out_vals, np.zeros(len(r))])
        out_rank = np.concatenate([out_rank, have[fill_rows] + free_rank[r, j]])
    final = np.lexsort((out_rank, out_rows))
    return out_rows[final], out_cols[final], out_vals[final], out_rank[final]


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


def _batches(n_rows: int, n_cols: int) -> list[tuple[int, int]]:
    size = max(1, _MAX_DENSE_CELLS // max(n_cols, 1))
    return [(start, min(start + size, n_rows)) for start in range(0, n_rows, size)]


def _keep_top_n_per_row(matrix: sp.csr_matrix, n: int) -> sp.csr_matrix:
    """Zero all but the `n` largest entries of each row (ties at the cut are resolved by column order)."""
    out = matrix.tocsr(copy=True)
    out.sort_indices()
    rows = np.repeat(np.arange(out.shape[0]), np.diff(out.indptr))
    order = np.lexsort((out.indices, -out.data, rows))  # by row, then value desc, then column
    rank_in_row = np.empty(len(order), dtype=np.int64)
    rank_in_row[order] = np.arange(len(order)) - out.indptr[rows[order]]
    out.data[rank_in_row >= n] = 0.0
    out.eliminate_zeros()
    return out


def _row_normalised(block: np.ndarray) -> np.ndarray:
    """Each row divided by its maximum (rows whose maximum is not positive become 0)."""
    top = block.max(axis=1, initial=0.0)
    safe = np.where(top > 0, top, 1.0)
    return np.where(top[:, None] > 0, block / safe[:, None], 0.0)


def _sparse_row_normalised(block: sp.csr_matrix) -> sp.csr_matrix:
    """Each row divided by its maximum (rows without a positive entry stay empty)."""
    top = block.max(axis=1).toarray().ravel() if block.shape[0] else np.zeros(0)
    scale = np.divide(1.0, top, out=np.zeros_like(top, dtype=np.float64), where=top > 0)
    return (sp.diags(scale) @ block).tocsr()


# --------------------------------------------------------------------------------------------------- history matrix


def _customer_codes(customer_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(customer_ids, sort=True)
    return np.asarray(uniques, dtype=object), codes


def _history_matrix(
    h: pd.DataFrame, products: pd.Index, half_life_days: float, cust_codes: np.ndarray, n_customers: int
) -> sp.csr_matrix:
    """Customers x products, each purchase weighing 0.5 ** (days before the customer's last purchase / half-life).

    Measuring recency from each customer's own last purchase makes a customer's row independent of the other
    customers scored with them. Products the model never saw are dropped (they carry no signal).
    """
    prod_codes = products.get_indexer(h["product_id"])
    known = prod_codes >= 0
    ordered_at = h["ordered_at"]
    last = ordered_at.groupby(cust_codes).transform("max")
    age_days = (last - ordered_at).dt.total_seconds().to_numpy() / 86_400.0
    weights = np.power(0.5, np.clip(age_days, 0.0, None) / half_life_days)
    x = sp.csr_matrix((weights[known], (cust_codes[known], prod_codes[known])), shape=(n_customers, len(products)))
    x.sum_duplicates()
    return x


class _BlockScorer:
    """Shared `recommend` for models that score a block of customers as a dense (customers x products) array.

    Subclasses set `products_` (sorted ids), `popularity_` (a fitted PopularityRecommender, for tie-breaks and
    fill-in) and implement `_history(h, cust_codes, n)` -> sparse history and `_score_block(hist_block)`.
    """

    name = "block_scorer"
    exclude_purchased = False

    def _check_fitted(self) -> None:
        if not hasattr(self, "products_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(interactions) first")

    def _history(self, h: pd.DataFrame, cust_codes: np.ndarray, n_customers: int) -> sp.csr_matrix:
        raise NotImplementedError

    def _score_block(self, hist_block: sp.csr_matrix) -> np.ndarray:
        raise NotImplementedError

    def _tiebreak(self) -> np.ndarray:
        return self.popularity_.scores_

    def _sparse_scores(self, hist_block: sp.csr_matrix) -> sp.csr_matrix | None:
        """Non-negative scores as a sparse matrix (unscored = 0), or None when the model's scores are dense."""
        return None

    def recommend(self, history: pd.DataFrame, k: int = 10) -> pd.DataFrame:
        self._check_fitted()
        h = prepare_history(history)
        if h.empty:
            return empty_recommendations()
        customers, cust_codes = _customer_codes(h["customer_id"].to_numpy())
        hist = self._history(h, cust_codes, len(customers))
        tiebreak = self._tiebreak()
        order = _priority_order(tiebreak)
        if not self.exclude_purchased and self._sparse_scores(hist[:0]) is not None:
            return self._recommend_sparse(customers, hist, order, k)
        frames = []
        for start, stop in _batches(len(customers), len(self.products_)):
            block = hist[start:stop]
            primary = self._score_block(block)
            if self.exclude_purchased:
                primary[block.toarray() > 0] = -np.inf
            idx, values = _top_k(primary, tiebreak, k, order)
            frames.append(_frame(customers[start:stop], self.products_, idx, values, "customer_id", "product_id"))
        return pd.concat(frames, ignore_index=True)

    def _recommend_sparse(
        self, customers: np.ndarray, hist: sp.csr_matrix, order: np.ndarray, k: int
    ) -> pd.DataFrame:
        frames = []
        for start in range(0, len(customers), _SPARSE_BLOCK_ROWS):
            stop = min(start + _SPARSE_BLOCK_ROWS, len(customers))
            scores = self._sparse_scores(hist[start:stop])
            assert scores is not None
            rows, cols, values, rank = _sparse_top_k(scores, order, k)
            frames.append(pd.DataFrame({"customer_id": customers[start:stop][rows], "product_id": self.products_[cols],
                                        "rank": rank.astype(np.int64), "score": values}))
        return pd.concat(frames, ignore_index=True)

    def _related_from_similarity(self, similarity: sp.csr_matrix | np.ndarray, k: int) -> pd.DataFrame:
        n = len(self.products_)
        k_eff = min(k, n - 1)
        if k_eff <= 0:
            return empty_related()
        tiebreak = self._tiebreak()
        order = _priority_order(tiebreak)
        frames = []
        for start, stop in _batches(n, n):
            rows = similarity[start:stop]
            primary = np.asarray(rows.todense() if sp.issparse(rows) else rows, dtype=np.float64)
            primary[np.arange(stop - start), np.arange(start, stop)] = -np.inf
            idx, values = _top_k(primary, tiebreak, k_eff, order)
            frames.append(
                _frame(self.products_[start:stop], self.products_, idx, values, "product_id", "related_product_id")
            )
        return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------------------------------- baselines


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
        customers, cust_codes = _customer_codes(h["customer_id"].to_numpy())
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
        order = self.ranking_
        frames = []
        for start, stop in _batches(len(customers), len(self.products_)):
            primary = np.tile(self.scores_, (stop - start, 1))
            primary[bought[start:stop].toarray() > 0] = -np.inf
            idx, values = _top_k(primary, self.scores_, k, order)
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


class RepeatPurchaseRecommender(_BlockScorer):
    """"Buy again": the customer's own products, by recency-weighted purchase count, then popular products.

    Score of a bought product = sum over its purchases of 0.5 ** (days before the customer's last purchase /
    `half_life_days`); products never bought score 0 and come in popularity order. With already-bought products
    excluded (the new-items setting) this is the popularity list without the customer's products.
    """

    name = "repeat_purchase"

    def __init__(self, half_life_days: float = 60.0, popularity_window_days: int = 30) -> None:
        if half_life_days <= 0:
            raise ValueError(f"half_life_days must be positive, got {half_life_days}")
        self.half_life_days = half_life_days
        self.popularity_window_days = popularity_window_days

    def get_params(self) -> dict[str, Any]:
        return {"half_life_days": self.half_life_days, "popularity_window_days": self.popularity_window_days}

    def fit(self, interactions: pd.DataFrame) -> Self:
        self.popularity_ = PopularityRecommender(window_days=self.popularity_window_days).fit(interactions)
        self.products_ = self.popularity_.products_
        self.as_of_ = self.popularity_.as_of_
        return self

    def _history(self, h: pd.DataFrame, cust_codes: np.ndarray, n_customers: int) -> sp.csr_matrix:
        return _history_matrix(h, pd.Index(self.products_), self.half_life_days, cust_codes, n_customers)

    def _score_block(self, hist_block: sp.csr_matrix) -> np.ndarray:
        return hist_block.toarray()

    def _sparse_scores(self, hist_block: sp.csr_matrix) -> sp.csr_matrix | None:
        return hist_block.tocsr(copy=True)

    def related_products(self, k: int = 5) -> pd.DataFrame:
        self._check_fitted()
        return self.popularity_.related_products(k)


# --------------------------------------------------------------------------------------------------- item CF


def _bm25_item_weights(x: sp.csr_matrix, k1: float, b: float) -> sp.csr_matrix:
    """BM25 weighting of a customers x products matrix, read as documents = products, terms = customers.

    A customer who bought few products says more about each of them (idf over customers), and a product bought by
    very many customers is length-normalised so bestsellers do not become everyone's neighbour.
    """
    x = x.tocoo()
    n_products = x.shape[1]
    df_customer = np.bincount(x.row, minlength=x.shape[0])  # products per customer
    idf = np.log(n_products) - np.log1p(df_customer)
    idf = np.clip(idf, 0.0, None) + 1e-6
    product_len = np.asarray(x.sum(axis=0)).ravel()
    avg_len = product_len[product_len > 0].mean() if (product_len > 0).any() else 1.0
    length_norm = (1.0 - b) + b * product_len / avg_len
    data = x.data * (k1 + 1.0) / (k1 * length_norm[x.col] + x.data) * idf[x.row]
    return sp.csr_matrix((data, (x.row, x.col)), shape=x.shape)


class ItemKNNRecommender(_BlockScorer):
    """Item-to-item collaborative filtering on a recency-weighted customer x product matrix.

    Each purchase weighs `0.5 ** (age_days / half_life_days)` relative to the last purchase in the data. With
    `weighting="cosine"` the similarity of two products is the cosine of their customer columns; with `"bm25"` the
    matrix is BM25-weighted first (see `_bm25_item_weights`), then compared by cosine. A customer's score for
    product j is `sum_i h_i * sim(i, j)` over the products i in their (equally recency-weighted) history, keeping
    only the `n_neighbors` most similar products of each i. Products with no similarity signal are filled in by
    popularity, so every customer gets `k` products. Already-bought products stay eligible unless
    `exclude_purchased` (repeat purchases are common in stores); a product never counts as its own neighbour.
    """

    name = "item_knn"

    def __init__(
        self,
        n_neighbors: int = 50,
        half_life_days: float = 90.0,
        exclude_purchased: bool = False,
        popularity_window_days: int = 30,
        weighting: str = "cosine",
        bm25_k1: float = 1.2,
        bm25_b: float = 0.75,
    ) -> None:
        if n_neighbors <= 0 or half_life_days <= 0:
            raise ValueError("n_neighbors and half_life_days must be positive")
        if weighting not in ("cosine", "bm25"):
            raise ValueError(f"weighting must be 'cosine' or 'bm25', got {weighting!r}")
        self.n_neighbors = n_neighbors
        self.half_life_days = half_life_days
        self.exclude_purchased = exclude_purchased
        self.popularity_window_days = popularity_window_days
        self.weighting = weighting
        self.bm25_k1 = bm25_k1
        self.bm25_b = bm25_b
        self.name = "item_knn" if weighting == "cosine" else f"item_knn_{weighting}"

    def get_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "n_neighbors": self.n_neighbors,
            "half_life_days": self.half_life_days,
            "exclude_purchased": self.exclude_purchased,
            "popularity_window_days": self.popularity_window_days,
            "weighting": getattr(self, "weighting", "cosine"),
        }
        if params["weighting"] == "bm25":
            params.update({"bm25_k1": self.bm25_k1, "bm25_b": self.bm25_b})
        return params

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
        if getattr(self, "weighting", "cosine") == "bm25":
            x = _bm25_item_weights(x, self.bm25_k1, self.bm25_b)
        x_unit = normalize(x, norm="l2", axis=0)  # unit-length product columns: x_unit.T @ x_unit is cosine
        sim = (x_unit.T @ x_unit).tocsr()
        sim.setdiag(0.0)
        sim.eliminate_zeros()
        self.similarity_ = _keep_top_n_per_row(sim, self.n_neighbors)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "similarity_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(interactions) first")

    def _history(self, h: pd.DataFrame, cust_codes: np.ndarray, n_customers: int) -> sp.csr_matrix:
        return _history_matrix(h, pd.Index(self.products_), self.half_life_days, cust_codes, n_customers)

    def _score_block(self, hist_block: sp.csr_matrix) -> np.ndarray:
        return np.asarray((hist_block @ self.similarity_).todense())

    def _sparse_scores(self, hist_block: sp.csr_matrix) -> sp.csr_matrix | None:
        return (hist_block @ self.similarity_).tocsr()

    def related_products(self, k: int = 5) -> pd.DataFrame:
        """For every product: its most similar products, filled up with popular ones; never the product itself."""
        self._check_fitted()
        return self._related_from_similarity(self.similarity_, k)


# --------------------------------------------------------------------------------------------------- latent factors


def _rowdot_gathered(a: np.ndarray, rows: np.ndarray, b: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """`(a[rows] * b[cols]).sum(1)` in chunks, so memory stays O(chunk x factors)."""
    out = np.empty(len(rows), dtype=a.dtype)
    for lo in range(0, len(rows), _GATHER_CHUNK):
        hi = min(lo + _GATHER_CHUNK, len(rows))
        out[lo:hi] = np.einsum("ij,ij->i", a[rows[lo:hi]], b[cols[lo:hi]])
    return out


def _als_solve(
    confidence: sp.csr_matrix, fixed: np.ndarray, reg: float, start: np.ndarray, cg_steps: int
) -> np.ndarray:
    """Implicit-feedback least squares for every row at once, by `cg_steps` of conjugate gradient (Hu, Koren &
    Volinsky 2008; the CG variant of Takács et al. 2011).

    For row u with confidences c_ui = 1 + alpha * r_ui on its observed items (preference 1) and 1 elsewhere
    (preference 0), solves (YᵀY + reg·I + Yᵀ(C_u - I)Y) x_u = Yᵀ C_u p_u. `confidence` holds c_ui on the observed
    entries; all rows advance together (sparse gathers and matrix products, no loop over rows).
    """
    coo = confidence.tocoo()
    rows, cols, c = coo.row, coo.col, coo.data.astype(fixed.dtype)
    n_factors = fixed.shape[1]
    gram = fixed.T @ fixed + reg * np.eye(n_factors, dtype=fixed.dtype)
    c_minus_1 = c - 1.0
    shape = confidence.shape

    def apply_a(p: np.ndarray) -> np.ndarray:
        weights = c_minus_1 * _rowdot_gathered(p, rows, fixed, cols)
        return p @ gram + sp.csr_matrix((weights, (rows, cols)), shape=shape) @ fixed

    b = sp.csr_matrix((c, (rows, cols)), shape=shape) @ fixed
    x = start.copy()
    r = b - apply_a(x)
    p = r.copy()
    rs_old = np.einsum("ij,ij->i", r, r)
    for _ in range(cg_steps):
        ap = apply_a(p)
        denom = np.einsum("ij,ij->i", p, ap)
        alpha = np.divide(rs_old, denom, out=np.zeros_like(rs_old), where=denom > 1e-20)
        x += alpha[:, None] * p
        r -= alpha[:, None] * ap
        rs_new = np.einsum("ij,ij->i", r, r)
        beta = np.divide(rs_new, rs_old, out=np.zeros_like(rs_new), where=rs_old > 1e-20)
        p = r + beta[:, None] * p
        rs_old = rs_new
    return x


class ALSRecommender(_BlockScorer):
    """Implicit ALS (latent factors) on the recency-weighted customer x product matrix.

    Confidence of an observed (customer, product) = 1 + `alpha` * weight; customer and product factors are fitted
    by alternating conjugate-gradient least squares from a seeded random start. At recommendation time the
    customers' factors are folded in from their history with the product factors fixed (more CG steps), so new
    customers and new purchases count without refitting. Score = customer factors · product factors.
    """

    name = "als"

    def __init__(
        self,
        factors: int = 32,
        regularization: float = 1.0,
        alpha: float = 10.0,
        iterations: int = 12,
        cg_steps: int = 3,
        fold_in_cg_steps: int = 8,
        half_life_days: float = 120.0,
        popularity_window_days: int = 30,
        seed: int = 0,
    ) -> None:
        if factors <= 0 or iterations <= 0 or cg_steps <= 0:
            raise ValueError("factors, iterations and cg_steps must be positive")
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.cg_steps = cg_steps
        self.fold_in_cg_steps = fold_in_cg_steps
        self.half_life_days = half_life_days
        self.popularity_window_days = popularity_window_days
        self.seed = seed

    def get_params(self) -> dict[str, Any]:
        return {
            "factors": self.factors,
            "regularization": self.regularization,
            "alpha": self.alpha,
            "iterations": self.iterations,
            "cg_steps": self.cg_steps,
            "fold_in_cg_steps": self.fold_in_cg_steps,
            "half_life_days": self.half_life_days,
            "popularity_window_days": self.popularity_window_days,
            "seed": self.seed,
        }

    def _confidence(self, weighted: sp.csr_matrix) -> sp.csr_matrix:
        conf = weighted.copy().astype(np.float32)
        conf.data = 1.0 + self.alpha * conf.data
        return conf

    def fit(self, interactions: pd.DataFrame) -> Self:
        df = prepare_history(interactions)
        self.popularity_ = PopularityRecommender(window_days=self.popularity_window_days).fit(df)
        self.products_ = self.popularity_.products_
        self.as_of_ = self.popularity_.as_of_
        _, cust_codes = _customer_codes(df["customer_id"].to_numpy())
        n_customers = int(cust_codes.max()) + 1
        conf = self._confidence(
            _history_matrix(df, pd.Index(self.products_), self.half_life_days, cust_codes, n_customers)
        )
        conf_t = conf.T.tocsr()
        rng = np.random.default_rng(self.seed)
        scale = 0.01
        users = (rng.standard_normal((n_customers, self.factors)) * scale).astype(np.float32)
        items = (rng.standard_normal((len(self.products_), self.factors)) * scale).astype(np.float32)
        for _ in range(self.iterations):
            users = _als_solve(conf, items, self.regularization, users, self.cg_steps)
            items = _als_solve(conf_t, users, self.regularization, items, self.cg_steps)
        self.item_factors_ = items
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "item_factors_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(interactions) first")

    def _history(self, h: pd.DataFrame, cust_codes: np.ndarray, n_customers: int) -> sp.csr_matrix:
        return _history_matrix(h, pd.Index(self.products_), self.half_life_days, cust_codes, n_customers)

    def _score_block(self, hist_block: sp.csr_matrix) -> np.ndarray:
        conf = self._confidence(hist_block)
        start = np.zeros((hist_block.shape[0], self.factors), dtype=np.float32)
        users = _als_solve(conf, self.item_factors_, self.regularization, start, self.fold_in_cg_steps)
        return (users @ self.item_factors_.T).astype(np.float64)

    def related_products(self, k: int = 5) -> pd.DataFrame:
        """For every product: the products whose factors point the same way (cosine), then popular ones."""
        self._check_fitted()
        unit = normalize(self.item_factors_.astype(np.float64), norm="l2", axis=1)
        return self._related_from_similarity(unit @ unit.T, k)


# --------------------------------------------------------------------------------------------------- hybrid


class HybridRecommender(_BlockScorer):
    """Repeat purchase blended with discovery: score = `repeat_weight` * buy-again + discovery, each scaled to [0, 1]
    per customer (divided by the customer's maximum).

    The discovery model (item-to-item CF by default) proposes products related to the history; the buy-again part
    lifts the customer's own recent, frequent products. In the new-items setting only the discovery part remains.
    """

    name = "hybrid"

    def __init__(
        self,
        discovery: _BlockScorer | None = None,
        repeat: RepeatPurchaseRecommender | None = None,
        repeat_weight: float = 1.0,
    ) -> None:
        if repeat_weight < 0:
            raise ValueError(f"repeat_weight must be non-negative, got {repeat_weight}")
        self.discovery = discovery if discovery is not None else ItemKNNRecommender()
        self.repeat = repeat if repeat is not None else RepeatPurchaseRecommender()
        self.repeat_weight = repeat_weight

    def get_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"repeat_weight": self.repeat_weight, "discovery": self.discovery.name}
        params.update({f"discovery.{k}": v for k, v in self.discovery.get_params().items()})
        params.update({f"repeat.{k}": v for k, v in self.repeat.get_params().items()})
        return params

    def fit(self, interactions: pd.DataFrame) -> Self:
        df = prepare_history(interactions)
        self.discovery.fit(df)
        self.repeat.fit(df)
        self.popularity_ = self.repeat.popularity_
        self.products_ = self.repeat.products_
        self.as_of_ = self.repeat.as_of_
        return self

    def _history(self, h: pd.DataFrame, cust_codes: np.ndarray, n_customers: int) -> sp.csr_matrix:
        # both parts read the same rows; they differ only in half-life, so keep both side by side
        a = self.discovery._history(h, cust_codes, n_customers)
        b = self.repeat._history(h, cust_codes, n_customers)
        return sp.hstack([a, b], format="csr")

    def _score_block(self, hist_block: sp.csr_matrix) -> np.ndarray:
        n = len(self.products_)
        discovery = self.discovery._score_block(hist_block[:, :n])
        repeat = self.repeat._score_block(hist_block[:, n:])
        return _row_normalised(discovery) + self.repeat_weight * _row_normalised(repeat)

    def _sparse_scores(self, hist_block: sp.csr_matrix) -> sp.csr_matrix | None:
        n = len(self.products_)
        discovery = self.discovery._sparse_scores(hist_block[:, :n])
        if discovery is None:
            return None
        repeat = self.repeat._sparse_scores(hist_block[:, n:])
        assert repeat is not None
        return _sparse_row_normalised(discovery) + self.repeat_weight * _sparse_row_normalised(repeat)

    def related_products(self, k: int = 5) -> pd.DataFrame:
        self._check_fitted()
        return self.discovery.related_products(k)


# --------------------------------------------------------------------------------------------------- related products


class RelatedProductsModel(_BlockScorer):
    """Product-to-product model for the `related_products` metafields: "bought together, and by the same people".

    Similarity = cosine of products over baskets (orders) + `customer_weight` * cosine over customers' histories,
    keeping the `n_neighbors` best per product; products with too little signal are filled up by popularity. Orders
    are identified by `order_id` when the history has it, else by (customer, timestamp).
    """

    name = "related_products"

    def __init__(self, n_neighbors: int = 50, customer_weight: float = 0.5, popularity_window_days: int = 30) -> None:
        self.n_neighbors = n_neighbors
        self.customer_weight = customer_weight
        self.popularity_window_days = popularity_window_days

    def get_params(self) -> dict[str, Any]:
        return {
            "n_neighbors": self.n_neighbors,
            "customer_weight": self.customer_weight,
            "popularity_window_days": self.popularity_window_days,
        }

    def fit(self, interactions: pd.DataFrame) -> Self:
        df = prepare_history(interactions)
        self.popularity_ = PopularityRecommender(window_days=self.popularity_window_days).fit(df)
        self.products_ = self.popularity_.products_
        products = pd.Index(self.products_)
        basket = basket_keys(interactions.loc[interactions["customer_id"].notna() & interactions["product_id"].notna()])
        sims = []
        for keys, weight in ((basket, 1.0), (df["customer_id"].to_numpy(), self.customer_weight)):
            if weight <= 0:
                continue
            codes = pd.factorize(keys)[0]
            x = sp.csr_matrix(
                (np.ones(len(codes)), (codes, products.get_indexer(df["product_id"]))),
                shape=(codes.max() + 1, len(products)),
            )
            x.sum_duplicates()
            x.data[:] = 1.0
            unit = normalize(x, norm="l2", axis=0)
            sims.append(weight * (unit.T @ unit).tocsr())
        sim = sims[0] if len(sims) == 1 else sims[0] + sims[1]
        sim.setdiag(0.0)
        sim.eliminate_zeros()
        self.similarity_ = _keep_top_n_per_row(sim.tocsr(), self.n_neighbors)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "similarity_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(interactions) first")

    def related_products(self, k: int = 5) -> pd.DataFrame:
        self._check_fitted()
        return self._related_from_similarity(self.similarity_, k)


def basket_keys(lines: pd.DataFrame) -> np.ndarray:
    """One key per line identifying its order: `order_id`, else customer and timestamp."""
    if "order_id" in lines.columns and lines["order_id"].notna().all():
        return lines["order_id"].astype(str).to_numpy()
    return (lines["customer_id"].astype(str) + "@" + pd.to_datetime(lines["ordered_at"], utc=True).astype(str)).to_numpy()
