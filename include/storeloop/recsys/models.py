"""The product recommenders: two baselines (popularity, repeat purchase), item-to-item collaborative filtering (cosine
or BM25 weighting), implicit ALS (latent factors), a hybrid of repeat purchase and discovery, and a product-to-product
model for related products.

Every model is a `Recommender` (the base class below) and shares its interface:

- `fit(interactions)` on a purchase history (`customer_id, product_id, quantity, ordered_at`),
- `recommend(history, k)` -> DataFrame `customer_id, product_id, rank, score` (top `k` per customer in `history`),
- `related_products(k)` -> DataFrame `product_id, related_product_id, rank, score` (for every product seen in fit).

Scoring is vectorised over customers: the customers' histories become one sparse customer x product matrix, scored
in dense blocks of at most ~4M cells (matrix products, no per-customer Python loop); the top-k selection is
`storeloop.recsys.topk`. Ties are broken by popularity, then by product id, so results are deterministic, and a
customer's list never depends on who else is scored with them (recency is measured from each customer's own last
purchase).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from storeloop.recsys.interactions import (
    basket_keys,
    empty_recommendations,
    empty_related,
    prepare_history,
    recency_weights,
)
from storeloop.recsys.topk import (
    blockwise_sparse_top_k_frame,
    blockwise_top_k_frame,
    cosine_top_n,
    priority_order,
    related_top_k_frame,
    top_k_frame,
)

_GATHER_CHUNK = 1_000_000  # nonzeros per chunk when gathering factor rows in ALS


# --------------------------------------------------------------------------------------------------- history matrix


@dataclass(frozen=True)
class CustomerHistory:
    """A cleaned purchase history (`prepare_history`) with its customers numbered in sorted id order."""

    lines: pd.DataFrame
    customers: np.ndarray  # sorted customer ids; row i of a history matrix is customers[i]
    customer_codes: np.ndarray  # per line: the row of its customer

    @classmethod
    def from_lines(cls, lines: pd.DataFrame) -> CustomerHistory:
        codes, uniques = pd.factorize(lines["customer_id"].to_numpy(), sort=True)
        return cls(lines=lines, customers=np.asarray(uniques, dtype=object), customer_codes=codes)


def _summed_matrix(values: np.ndarray, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """Sparse matrix of `values` at (`rows`, `cols`), repeated cells summed."""
    x = sp.csr_matrix((values, (rows, cols)), shape=shape)
    x.sum_duplicates()
    return x


def history_matrix(history: CustomerHistory, products: np.ndarray, half_life_days: float | None) -> sp.csr_matrix:
    """Customers x products; a purchase weighs 0.5 ** (days before the customer's last purchase / `half_life_days`),
    or 1 when `half_life_days` is None.

    Measuring recency from each customer's own last purchase makes a customer's row independent of the other
    customers scored with them. Products the model never saw are dropped (they carry no signal).
    """
    h, cust_codes = history.lines, history.customer_codes
    prod_codes = pd.Index(products).get_indexer(h["product_id"])
    known = prod_codes >= 0
    if half_life_days is None:
        weights = np.ones(len(h))
    else:
        ordered_at = h["ordered_at"]
        weights = recency_weights(ordered_at, ordered_at.groupby(cust_codes).transform("max"), half_life_days)
    shape = (len(history.customers), len(products))
    return _summed_matrix(weights[known], cust_codes[known], prod_codes[known], shape)


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


# --------------------------------------------------------------------------------------------------- the base


class Recommender(ABC):
    """What every recommender shares: the fit preamble, the "fitted?" check, the history matrix and block scoring.

    A model's `fit` starts from `_training_history(interactions)` (validated, cleaned, never empty) and, when popular
    products break its ties and fill its lists, `_fit_popularity`. `recommend` turns the history into a customers x
    products matrix (`_history`: recency-weighted by the model's `half_life_days`, or counts when it has none), scores
    it block by block (`_score_block`, or `_sparse_scores` when the scores stay sparse), masks bought products when
    `exclude_purchased`, and keeps the top `k` per customer, ties by `_tiebreak` (popularity) then product id. A
    model is fitted once `fitted_attribute` is set; every public method checks that with one error message.
    """

    name: str = "recommender"
    exclude_purchased: bool = False
    half_life_days: float | None = None
    fitted_attribute: ClassVar[str] = "products_"
    needs_features: ClassVar[bool] = False  # True: fit/recommend also take the dbt feature tables (recsys/ranker.py)

    products_: np.ndarray  # fitted product ids, sorted; the columns of every matrix
    as_of_: pd.Timestamp  # the last purchase in the training data
    popularity_: PopularityRecommender  # tie-breaks and fill-in (the popularity model itself has none)

    @abstractmethod
    def get_params(self) -> dict[str, Any]: ...

    @abstractmethod
    def fit(self, interactions: pd.DataFrame) -> Self: ...

    @abstractmethod
    def related_products(self, k: int = 5) -> pd.DataFrame: ...

    @staticmethod
    def _training_history(interactions: pd.DataFrame) -> pd.DataFrame:
        """The purchase history to fit on: validated and cleaned (`prepare_history`); an empty one is an error."""
        df = prepare_history(interactions)
        if df.empty:
            raise ValueError(
                "cannot fit a recommender on an empty purchase history (no rows with customer and product)"
            )
        return df

    def _fit_popularity(self, history: pd.DataFrame, window_days: int) -> None:
        """Fit the popularity model that breaks ties and fills lists; its products are this model's products."""
        self.popularity_ = PopularityRecommender(window_days=window_days).fit(history)
        self.products_ = self.popularity_.products_
        self.as_of_ = self.popularity_.as_of_

    def _check_fitted(self) -> None:
        if not hasattr(self, self.fitted_attribute):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(interactions) first")

    def _customer_history(self, history: pd.DataFrame) -> CustomerHistory | None:
        """The history to score, after the fitted check; None when it has no line with customer and product."""
        self._check_fitted()
        h = prepare_history(history)
        return None if h.empty else CustomerHistory.from_lines(h)

    def _history(self, history: CustomerHistory) -> sp.csr_matrix:
        return history_matrix(history, self.products_, self.half_life_days)

    def _score_block(self, hist_block: sp.csr_matrix) -> np.ndarray:
        """Dense scores (customers x products) of a block of history rows."""
        raise NotImplementedError(f"{type(self).__name__} does not score customers' histories")

    def _sparse_scores(self, hist_block: sp.csr_matrix) -> sp.csr_matrix | None:
        """Non-negative scores as a sparse matrix (unscored = 0), or None when the model's scores are dense."""
        return None

    def _tiebreak(self) -> np.ndarray:
        return self.popularity_.scores_

    def allowed_mask(self, exclude: Iterable[str] | None) -> np.ndarray:
        """Per fitted product: False for the products in `exclude` (ids the model does not know are ignored)."""
        self._check_fitted()
        keep = np.ones(len(self.products_), dtype=bool)
        if exclude is not None:
            cols = pd.Index(self.products_).get_indexer(pd.Index(list(exclude), dtype=object).astype(str))
            keep[cols[cols >= 0]] = False
        return keep

    def popularity(self) -> pd.Series:
        """The model's own popularity of every fitted product (its tie-break and fill-in order, fixed at fit time),
        indexed by product id: what the scoring step calls trending."""
        self._check_fitted()
        return pd.Series(np.asarray(self._tiebreak(), dtype=np.float64), index=pd.Index(self.products_, dtype=object))

    def recommend(self, history: pd.DataFrame, k: int = 10, exclude: Iterable[str] | None = None) -> pd.DataFrame:
        """Top `k` products for every customer in `history`: `customer_id, product_id, rank, score`.

        Products in `exclude` (e.g. the ones the store cannot sell now) are removed before the cut to `k`, so a list
        stays full whenever the model has `k` other products to offer."""
        to_score = self._customer_history(history)
        if to_score is None:
            return empty_recommendations()
        hist = self._history(to_score)
        tiebreak = self._tiebreak()
        allowed = self.allowed_mask(exclude)
        if not self.exclude_purchased and self._sparse_scores(hist[:0]) is not None:

            def sparse_scores(start: int, stop: int) -> sp.csr_matrix:
                scores = self._sparse_scores(hist[start:stop])
                assert scores is not None
                if not allowed.all():
                    scores = scores.tocsr(copy=True)
                    scores.data[~allowed[scores.indices]] = 0.0
                    scores.eliminate_zeros()
                return scores

            order = priority_order(tiebreak)
            return blockwise_sparse_top_k_frame(to_score.customers, self.products_, sparse_scores,
                                                order[allowed[order]], k)

        def dense_scores(start: int, stop: int) -> np.ndarray:
            block = hist[start:stop]
            primary = self._score_block(block)
            if self.exclude_purchased:
                primary[block.toarray() > 0] = -np.inf
            primary[:, ~allowed] = -np.inf
            return primary

        return blockwise_top_k_frame(
            to_score.customers, self.products_, dense_scores, tiebreak, k, "customer_id", "product_id"
        )

    def _related_from_similarity(self, similarity: sp.csr_matrix | np.ndarray, k: int) -> pd.DataFrame:
        return related_top_k_frame(similarity, self.products_, self._tiebreak(), k)


# --------------------------------------------------------------------------------------------------- baselines


class PopularityRecommender(Recommender):
    """Most purchased products in the last `window_days` before the end of the training data; same list for all.

    Score = purchases (order lines) in the window plus a fraction < 1 from all-time purchases, so products that did
    not sell in the window still rank by their all-time popularity and the score is monotone in the rank.
    """

    name = "popularity"
    fitted_attribute = "scores_"

    def __init__(self, window_days: int = 30, exclude_purchased: bool = False) -> None:
        if window_days <= 0:
            raise ValueError(f"window_days must be positive, got {window_days}")
        self.window_days = window_days
        self.exclude_purchased = exclude_purchased

    def get_params(self) -> dict[str, Any]:
        return {"window_days": self.window_days, "exclude_purchased": self.exclude_purchased}

    def fit(self, interactions: pd.DataFrame) -> Self:
        df = self._training_history(interactions)
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

    def _tiebreak(self) -> np.ndarray:
        return self.scores_

    def _score_block(self, hist_block: sp.csr_matrix) -> np.ndarray:
        return np.tile(self.scores_, (hist_block.shape[0], 1))

    def recommend(self, history: pd.DataFrame, k: int = 10, exclude: Iterable[str] | None = None) -> pd.DataFrame:
        """The global top `k` for every customer (without their own products when `exclude_purchased`)."""
        if self.exclude_purchased:
            return super().recommend(history, k, exclude)
        to_score = self._customer_history(history)
        if to_score is None:
            return empty_recommendations()
        n = len(to_score.customers)
        ranking = self.ranking_[self.allowed_mask(exclude)[self.ranking_]]
        top = ranking[:k]
        idx = np.tile(top, (n, 1))
        values = np.tile(self.scores_[top], (n, 1))
        return top_k_frame(to_score.customers, self.products_, idx, values, "customer_id", "product_id")

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
        return top_k_frame(self.products_, self.products_, idx, self.scores_[idx], "product_id", "related_product_id")


class RepeatPurchaseRecommender(Recommender):
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
        self._fit_popularity(self._training_history(interactions), self.popularity_window_days)
        return self

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


class ItemKNNRecommender(Recommender):
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
    fitted_attribute = "similarity_"

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
        df = self._training_history(interactions)
        self._fit_popularity(df, self.popularity_window_days)
        cust_codes = pd.factorize(df["customer_id"])[0]
        prod_codes = pd.Index(self.products_).get_indexer(df["product_id"])
        weights = recency_weights(df["ordered_at"], self.as_of_, self.half_life_days)
        x = _summed_matrix(weights, cust_codes, prod_codes, (cust_codes.max() + 1, len(self.products_)))
        if getattr(self, "weighting", "cosine") == "bm25":
            x = _bm25_item_weights(x, self.bm25_k1, self.bm25_b)
        x_unit = normalize(x, norm="l2", axis=0)  # unit-length product columns: x_unit.T @ x_unit is cosine
        self.similarity_ = cosine_top_n([(1.0, x_unit)], self.n_neighbors)
        return self

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


class ALSRecommender(Recommender):
    """Implicit ALS (latent factors) on the recency-weighted customer x product matrix.

    Confidence of an observed (customer, product) = 1 + `alpha` * weight; customer and product factors are fitted
    by alternating conjugate-gradient least squares from a seeded random start. At recommendation time the
    customers' factors are folded in from their history with the product factors fixed (more CG steps), so new
    customers and new purchases count without refitting. Score = customer factors · product factors.
    """

    name = "als"
    fitted_attribute = "item_factors_"

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
        df = self._training_history(interactions)
        self._fit_popularity(df, self.popularity_window_days)
        history = CustomerHistory.from_lines(df)
        conf = self._confidence(self._history(history))
        conf_t = conf.T.tocsr()
        rng = np.random.default_rng(self.seed)
        scale = 0.01
        users = (rng.standard_normal((len(history.customers), self.factors)) * scale).astype(np.float32)
        items = (rng.standard_normal((len(self.products_), self.factors)) * scale).astype(np.float32)
        for _ in range(self.iterations):
            users = _als_solve(conf, items, self.regularization, users, self.cg_steps)
            items = _als_solve(conf_t, users, self.regularization, items, self.cg_steps)
        self.item_factors_ = items
        return self

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


class HybridRecommender(Recommender):
    """Repeat purchase blended with discovery: score = `repeat_weight` * buy-again + discovery, each scaled to [0, 1]
    per customer (divided by the customer's maximum).

    The discovery model (item-to-item CF by default) proposes products related to the history; the buy-again part
    lifts the customer's own recent, frequent products. In the new-items setting only the discovery part remains.
    """

    name = "hybrid"

    def __init__(
        self,
        discovery: Recommender | None = None,
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
        df = self._training_history(interactions)
        self.discovery.fit(df)
        self.repeat.fit(df)
        self.popularity_ = self.repeat.popularity_
        self.products_ = self.repeat.products_
        self.as_of_ = self.repeat.as_of_
        return self

    def _history(self, history: CustomerHistory) -> sp.csr_matrix:
        # both parts read the same rows; they differ only in half-life, so keep both side by side
        return sp.hstack([self.discovery._history(history), self.repeat._history(history)], format="csr")

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


class RelatedProductsModel(Recommender):
    """Product-to-product model for the `related_products` metafields: "bought together, and by the same people".

    Similarity = cosine of products over baskets (orders) + `customer_weight` * cosine over customers' histories,
    keeping the `n_neighbors` best per product; products with too little signal are filled up by popularity. Orders
    are identified by `order_id` when the history has it, else by (customer, timestamp). It recommends products for
    products only: `recommend` on a customer history raises NotImplementedError.
    """

    name = "related_products"
    fitted_attribute = "similarity_"

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
        df = self._training_history(interactions)
        self._fit_popularity(df, self.popularity_window_days)
        products = pd.Index(self.products_)
        # baskets include orders without a customer (guest checkouts, orders exported without Email): what is bought
        # together is a signal whoever bought it; products bought only by guests are outside the catalogue fitted
        baskets = interactions.loc[interactions["product_id"].notna()]
        basket_products = products.get_indexer(baskets["product_id"].astype(str))
        known = basket_products >= 0
        sims = []
        for keys, items, weight in ((basket_keys(baskets)[known], basket_products[known], 1.0),
                                    (df["customer_id"].to_numpy(), products.get_indexer(df["product_id"]),
                                     self.customer_weight)):
            if weight <= 0 or len(keys) == 0:
                continue
            codes = pd.factorize(keys)[0]
            x = _summed_matrix(np.ones(len(codes)), codes, items, (codes.max() + 1, len(products)))
            x.data[:] = 1.0
            sims.append((weight, normalize(x, norm="l2", axis=0)))
        self.similarity_ = cosine_top_n(sims, self.n_neighbors)
        return self

    def related_products(self, k: int = 5) -> pd.DataFrame:
        self._check_fitted()
        return self._related_from_similarity(self.similarity_, k)
