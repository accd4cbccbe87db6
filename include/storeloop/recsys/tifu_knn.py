"""TIFU-KNN: the personal-frequency baseline from the next-basket literature (Hu, Wang, He & Ma, "Modeling Personalized
Item Frequency Information for Next-basket Recommendation", SIGIR 2020).

A customer is the time-decayed average of their baskets (Personalized Item Frequency, PIF), mixed with the average of
their most similar customers:

1. Each basket is a 0/1 vector over products (a product bought twice in one order counts once). A customer's baskets,
   newest first, are cut into groups of `group_size`; the newest group is full, the oldest may be partial. Inside a
   group the i-th newest basket weighs `within_decay ** i`; group j (0 = newest) weighs `group_decay ** j`.
   The customer vector is `sum(weights * baskets) / group_size / number_of_groups`.
2. Neighbours: the `n_neighbors` training customers whose vectors have the highest cosine with the customer's
   (never the customer themself).
3. Score = `alpha * own vector + (1 - alpha) * mean of the neighbours' vectors`.

The paper's defaults are kept (group 7, within 0.9, group 0.7, 300 neighbours, alpha 0.7 for Instacart-like data):
they were not tuned on our simulator. Baskets are told apart by (customer, `ordered_at`): `prepare_history` keeps no
order id, and the lines of one order share its timestamp.

Scoring is blockwise and sparse: a block's vectors times the training vectors' transpose gives the cosines, the top
`n_neighbors` per row are kept, and their mean is one more sparse product.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp

from storeloop.recsys.models import CustomerHistory, Recommender, _summed_matrix
from storeloop.recsys.topk import keep_top_n_per_row


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
                 n_neighbors: int = 300, alpha: float = 0.7, popularity_window_days: int = 30) -> None:
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

    def get_params(self) -> dict[str, Any]:
        return {"group_size": self.group_size, "within_decay": self.within_decay, "group_decay": self.group_decay,
                "n_neighbors": self.n_neighbors, "alpha": self.alpha,
                "popularity_window_days": self.popularity_window_days}

    def _pif(self, history: CustomerHistory) -> sp.csr_matrix:
        return pif_vectors(history, self.products_, self.group_size, self.within_decay, self.group_decay)

    def fit(self, interactions: pd.DataFrame) -> Self:
        df = self._training_history(interactions)
        self._fit_popularity(df, self.popularity_window_days)
        history = CustomerHistory.from_lines(df)
        self.train_customers_ = history.customers
        vectors = self._pif(history)
        self.train_unit_t_ = _unit_rows(vectors).T.tocsr()  # products x customers
        self.train_vectors_ = vectors
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
        cosine = (_unit_rows(pif) @ self.train_unit_t_).tocsr()
        cosine = cosine - cosine.multiply(me)  # drop self
        cosine.eliminate_zeros()
        neighbours = keep_top_n_per_row(cosine, self.n_neighbors)
        neighbours.data[:] = 1.0 / self.n_neighbors
        return (self.alpha * pif + (1.0 - self.alpha) * (neighbours @ self.train_vectors_)).tocsr()

    def _score_block(self, hist_block: sp.csr_matrix) -> np.ndarray:
        scores = self._sparse_scores(hist_block)
        assert scores is not None
        return scores.toarray()

    def related_products(self, k: int = 5) -> pd.DataFrame:
        """TIFU-KNN has no product-to-product model: the related products are the popular ones."""
        self._check_fitted()
        return self.popularity_.related_products(k)
