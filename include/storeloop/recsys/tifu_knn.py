"""TIFU-KNN: the personal-frequency baseline from the next-basket literature (Hu, Wang, He & Ma, "Modeling Personalized
Item Frequency Information for Next-basket Recommendation", SIGIR 2020).

A customer is the time-decayed average of their baskets (Personalized Item Frequency, PIF), mixed with the average of
their most similar customers:

1. Each basket is a 0/1 vector over products (a product bought twice in one order counts once). A customer's baskets,
   newest first, are cut into groups of `group_size`; the newest group is full, the oldest may be partial. Inside a
   group the i-th newest basket weighs `within_decay ** i`; group j (0 = newest) weighs `group_decay ** j`.
   The customer vector is `sum(weights * baskets) / group_size / number_of_groups`.
2. Neighbours: the `n_neighbors` training customers whose vectors have the highest positive cosine with the
   customer's (never the customer themself; ties by the lower customer id), searched among a pool of at most
   `max_pool` training customers (a seeded sample when there are more: on the L store, 20,000 of 250,000, which bounds
   the search's memory and time; the stores in bench/README.md with fewer customers search them all).
3. Score = `alpha * own vector + (1 - alpha) * mean of the neighbours' vectors`.

The paper's defaults are kept (group 7, within 0.9, group 0.7, 300 neighbours, alpha 0.7 for Instacart-like data):
they were not tuned on our simulator. Baskets are told apart by (customer, `ordered_at`): `prepare_history` keeps no
order id, and the lines of one order share its timestamp.

Scoring is blockwise: for `NEIGHBOUR_ROWS` customers at a time the cosines with the pool are a dense block, the top
`n_neighbors` per row come from `np.partition` (exact, ties by pool order), and their mean is one sparse product.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp

from storeloop.recsys.models import CustomerHistory, Recommender, _summed_matrix
from storeloop.recsys.topk import MAX_DENSE_CELLS, top_n_positive

NEIGHBOUR_ROWS_MAX = 2_000  # customers whose cosines with the pool are held densely at once (<= MAX_DENSE_CELLS)


def _unit_rows(x: sp.csr_matrix) -> sp.csr_matrix:
    """Rows scaled to unit length (empty rows stay empty; zero rows allowed, unlike sklearn's `normalize`)."""
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return (sp.diags(scale) @ x).tocsr()


def pif_vectors(history: CustomerHistory, products: np.ndarray, group_size: int, within_decay: float,
                group_decay: float) -> sp.csr_matrix:
    """Customers x products: each customer's time-decayed average basket (step 1 of the module docstring).

    Products not in `products` are dropped after the baskets are numbered, so a basket made only of unknown products
    still counts as a basket (it dilutes the others, as it would in the paper's setting)."""
    lines = history.lines
    codes = history.customer_codes
    baskets = pd.DataFrame({"c": codes, "t": lines["ordered_at"].to_numpy()}).drop_duplicates()
    # newest basket first: recency rank 0 within the customer
    baskets = baskets.sort_values(["c", "t"], ascending=[True, False], kind="mergesort")
    rank = baskets.groupby("c", sort=False).cumcount().to_numpy()
    n_baskets = np.bincount(baskets["c"].to_numpy(), minlength=len(history.customers))
    n_groups = -(-n_baskets // group_size)  # ceil
    group, position = rank // group_size, rank % group_size
    weight = np.power(within_decay, position) * np.power(group_decay, group)
    weight = weight / group_size / n_groups[baskets["c"].to_numpy()]
    basket_weight = pd.Series(weight, index=pd.MultiIndex.from_arrays([baskets["c"], baskets["t"]]))

    prod_codes = pd.Index(products).get_indexer(lines["product_id"])
    known = prod_codes >= 0
    cells = pd.DataFrame({"c": codes[known], "t": lines["ordered_at"].to_numpy()[known],
                          "p": prod_codes[known]}).drop_duplicates()  # 0/1 baskets
    w = basket_weight.reindex(pd.MultiIndex.from_arrays([cells["c"], cells["t"]])).to_numpy()
    return _summed_matrix(w, cells["c"].to_numpy(), cells["p"].to_numpy(),
                          (len(history.customers), len(products)))


class TIFUKNNRecommender(Recommender):
    """TIFU-KNN (module docstring): time-decayed personal baskets mixed with similar customers'."""

    name = "tifu_knn"
    fitted_attribute = "train_vectors_"

    def __init__(self, group_size: int = 7, within_decay: float = 0.9, group_decay: float = 0.7,
                 n_neighbors: int = 300, alpha: float = 0.7, popularity_window_days: int = 30,
                 max_pool: int = 20_000, seed: int = 0) -> None:
        if group_size < 1 or n_neighbors < 1:
            raise ValueError("group_size and n_neighbors must be at least 1")
        if not (0 < within_decay <= 1 and 0 < group_decay <= 1 and 0 <= alpha <= 1):
            raise ValueError("within_decay and group_decay must be in (0, 1], alpha in [0, 1]")
        self.group_size = group_size
        self.within_decay = within_decay
        self.group_decay = group_decay
        self.n_neighbors = n_neighbors
        self.alpha = alpha
        self.popularity_window_days = popularity_window_days
        self.max_pool = max_pool
        self.seed = seed

    def get_params(self) -> dict[str, Any]:
        return {"group_size": self.group_size, "within_decay": self.within_decay, "group_decay": self.group_decay,
                "n_neighbors": self.n_neighbors, "alpha": self.alpha,
                "popularity_window_days": self.popularity_window_days, "max_pool": self.max_pool, "seed": self.seed}

    def _pif(self, history: CustomerHistory) -> sp.csr_matrix:
        return pif_vectors(history, self.products_, self.group_size, self.within_decay, self.group_decay)

    def fit(self, interactions: pd.DataFrame) -> Self:
        df = self._training_history(interactions)
        self._fit_popularity(df, self.popularity_window_days)
        history = CustomerHistory.from_lines(df)
        vectors = self._pif(history)
        pool = np.arange(len(history.customers))
        if len(pool) > self.max_pool:
            pool = np.sort(np.random.default_rng(self.seed).choice(pool, self.max_pool, replace=False))
        self.train_customers_ = history.customers[pool]
        self.train_vectors_ = vectors[pool]
        self.train_unit_t_ = _unit_rows(self.train_vectors_).T.tocsr()  # products x pool customers
        return self

    def _history(self, history: CustomerHistory) -> sp.csr_matrix:
        """The customers' PIF vectors, then one column per training customer marking the row's own (so that a
        customer is never their own neighbour); `_sparse_scores` splits them again."""
        own = pd.Index(self.train_customers_).get_indexer(history.customers)
        rows = np.flatnonzero(own >= 0)
        me = sp.csr_matrix((np.ones(len(rows)), (rows, own[rows])),
                           shape=(len(history.customers), len(self.train_customers_)))
        return sp.hstack([self._pif(history), me], format="csr")

    def _sparse_scores(self, hist_block: sp.csr_matrix) -> sp.csr_matrix | None:
        n = len(self.products_)
        pif, me = hist_block[:, :n], hist_block[:, n:]
        unit = _unit_rows(pif)
        pool = len(self.train_customers_)
        step = max(1, min(NEIGHBOUR_ROWS_MAX, MAX_DENSE_CELLS // max(pool, 1)))
        rows, cols = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        for start in range(0, pif.shape[0], step):
            stop = min(start + step, pif.shape[0])
            cosine = (unit[start:stop] @ self.train_unit_t_).toarray()
            own_r, own_c = me[start:stop].nonzero()
            cosine[own_r, own_c] = 0.0  # never oneself
            r, c = top_n_positive(cosine, self.n_neighbors)
            rows.append(r + start)
            cols.append(c)
        r, c = np.concatenate(rows), np.concatenate(cols)
        neighbours = sp.csr_matrix((np.full(len(r), 1.0 / self.n_neighbors), (r, c)), shape=(pif.shape[0], pool))
        return (self.alpha * pif + (1.0 - self.alpha) * (neighbours @ self.train_vectors_)).tocsr()

    def _score_block(self, hist_block: sp.csr_matrix) -> np.ndarray:
        scores = self._sparse_scores(hist_block)
        assert scores is not None
        return scores.toarray()

    def related_products(self, k: int = 5) -> pd.DataFrame:
        """TIFU-KNN has no product-to-product model: the related products are the popular ones."""
        self._check_fitted()
        return self.popularity_.related_products(k)
