"""Top-k selection for the recommenders: the `k` best items of every row of a score matrix, deterministically.

Rows are customers (recommendations) or products (related products); columns are the fitted products. Ties are
broken by a per-item priority (popularity), then by the lower column index. Items that must not be returned (already
bought, the product itself) are marked `-inf` in dense scores. Dense scores are processed in row blocks of at most
`MAX_DENSE_CELLS` cells so memory stays bounded however many customers are scored.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from storeloop.recsys.interactions import empty_related

MAX_DENSE_CELLS = 4_000_000
SPARSE_BLOCK_ROWS = 20_000  # rows per block when scores stay sparse

DenseRowScores = Callable[[int, int], np.ndarray]  # (start, stop) -> dense scores of rows start..stop-1
SparseRowScores = Callable[[int, int], sp.csr_matrix]  # (start, stop) -> non-negative sparse scores of those rows


def priority_order(tiebreak: np.ndarray) -> np.ndarray:
    """Columns sorted by descending `tiebreak`, then ascending column index."""
    return np.lexsort((np.arange(len(tiebreak)), -np.asarray(tiebreak, dtype=np.float64)))


def top_k_in_column_order(values: np.ndarray, k: int) -> np.ndarray:
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


def top_k(
    primary: np.ndarray, tiebreak: np.ndarray, k: int, order: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the `k` largest `primary` entries per row, ties broken by `tiebreak` then by column.

    `primary` is (n_rows, n_items) with -inf marking items that must not be returned; `tiebreak` is (n_items,).
    `order` is `priority_order(tiebreak)` when the caller has it precomputed.
    """
    k_eff = min(k, primary.shape[1])
    if order is None:
        order = priority_order(tiebreak)
    permuted = primary[:, order]
    idx = top_k_in_column_order(permuted, k_eff)
    return order[idx], np.take_along_axis(permuted, idx, axis=1)


def sparse_top_k(
    scores: sp.csr_matrix, order: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Top `k` per row of non-negative sparse scores, products without a score counting 0, as `(row, col, value,
    rank)` arrays (rank from 1), sorted by row then rank.

    `order` lists the products that may be returned, by priority; a product left out of it must have no stored
    score. Same result as `top_k` on the dense matrix with ties in `order` (priority) order: the stored scores are sorted
    per row (one lexsort over the nonzeros), and rows with fewer than k scored products are filled with the
    highest-priority products they do not have (value 0). Cost is O(nonzeros), not O(rows x products).
    """
    s = scores.tocsr(copy=True)
    s.eliminate_zeros()
    n_rows, n_items = s.shape
    k_eff = min(k, len(order))  # `order` may leave out products that must not be returned (they have no score)
    position = np.zeros(n_items, dtype=np.int64)
    position[order] = np.arange(len(order))
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
        width = min(len(order), 2 * k_eff)  # a row with c < k scored products has >= k - c free among the first 2k
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


def top_k_frame(
    owners: np.ndarray, items: np.ndarray, idx: np.ndarray, values: np.ndarray, owner_col: str, item_col: str
) -> pd.DataFrame:
    """Long frame `owner_col, item_col, rank, score` from per-row top-k indices; `-inf` (excluded) entries dropped."""
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


def dense_row_blocks(n_rows: int, n_cols: int) -> list[tuple[int, int]]:
    """`(start, stop)` row ranges covering `n_rows`, each block at most `MAX_DENSE_CELLS` cells of `n_cols`."""
    size = max(1, MAX_DENSE_CELLS // max(n_cols, 1))
    return [(start, min(start + size, n_rows)) for start in range(0, n_rows, size)]


def blockwise_top_k_frame(
    owners: np.ndarray,
    items: np.ndarray,
    row_scores: DenseRowScores,
    tiebreak: np.ndarray,
    k: int,
    owner_col: str,
    item_col: str,
) -> pd.DataFrame:
    """`top_k` of every owner's dense scores, computed block by block (`dense_row_blocks`), as a `top_k_frame`.

    `row_scores(start, stop)` returns the scores of owners `start..stop-1` over all `items`, with `-inf` on the items
    that must not be returned.
    """
    order = priority_order(tiebreak)
    frames = []
    for start, stop in dense_row_blocks(len(owners), len(items)):
        idx, values = top_k(row_scores(start, stop), tiebreak, k, order)
        frames.append(top_k_frame(owners[start:stop], items, idx, values, owner_col, item_col))
    return pd.concat(frames, ignore_index=True)


def blockwise_sparse_top_k_frame(
    owners: np.ndarray, items: np.ndarray, row_scores: SparseRowScores, order: np.ndarray, k: int
) -> pd.DataFrame:
    """`sparse_top_k` of every customer's sparse scores, `SPARSE_BLOCK_ROWS` customers at a time, as a frame
    `customer_id, product_id, rank, score`."""
    frames = []
    for start in range(0, len(owners), SPARSE_BLOCK_ROWS):
        stop = min(start + SPARSE_BLOCK_ROWS, len(owners))
        rows, cols, values, rank = sparse_top_k(row_scores(start, stop), order, k)
        frames.append(pd.DataFrame({"customer_id": owners[start:stop][rows], "product_id": items[cols],
                                    "rank": rank.astype(np.int64), "score": values}))
    return pd.concat(frames, ignore_index=True)


def related_top_k_frame(
    similarity: sp.csr_matrix | np.ndarray, products: np.ndarray, tiebreak: np.ndarray, k: int
) -> pd.DataFrame:
    """For every product, its `k` most similar products (never itself), ties by `tiebreak` then column, as a frame
    `product_id, related_product_id, rank, score` (products without similarity are filled in by priority)."""
    n = len(products)
    k_eff = min(k, n - 1)
    if k_eff <= 0:
        return empty_related()

    def row_scores(start: int, stop: int) -> np.ndarray:
        rows = similarity[start:stop]
        primary = np.asarray(rows.todense() if sp.issparse(rows) else rows, dtype=np.float64)
        primary[np.arange(stop - start), np.arange(start, stop)] = -np.inf
        return primary

    return blockwise_top_k_frame(products, products, row_scores, tiebreak, k_eff, "product_id", "related_product_id")


def top_n_positive(dense: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the `n` largest positive values of each row of `dense`, ties at the cut by the lower column
    (the rule of `keep_top_n_per_row`), found with `np.partition` instead of a sort."""
    if dense.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if n >= dense.shape[1]:
        return np.nonzero(dense > 0)
    kth = -np.partition(-dense, n - 1, axis=1)[:, n - 1]
    greater = dense > kth[:, None]
    tie = dense == kth[:, None]
    need = n - greater.sum(axis=1)
    keep = (greater | (tie & (np.cumsum(tie, axis=1) <= need[:, None]))) & (dense > 0)
    return np.nonzero(keep)


def cosine_top_n(units: list[tuple[float, sp.csr_matrix]], n: int) -> sp.csr_matrix:
    """`Σ weight · unitᵀ · unit` (products x products) without its diagonal, keeping the `n` largest positive entries
    of each row (ties by the lower column): `keep_top_n_per_row` of the whole product, computed `MAX_DENSE_CELLS` at
    a time so the product is never held. A grocer's catalogue (The Complete Journey: 68k products bought by 2.5k
    households) co-occurs almost densely: with the whole product, bench_ranker's process there had reached 15.9 GB and
    was still growing when it was stopped."""
    n_products = units[0][1].shape[1]
    pairs = [(weight, unit.T.tocsr(), unit.tocsr()) for weight, unit in units]
    step = max(1, MAX_DENSE_CELLS // max(n_products, 1))
    rows, cols, values = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0)]
    for start in range(0, n_products, step):
        stop = min(start + step, n_products)
        block = np.zeros((stop - start, n_products))
        for weight, transposed, unit in pairs:
            block += weight * (transposed[start:stop] @ unit).toarray()
        block[np.arange(stop - start), np.arange(start, stop)] = 0.0
        r, c = top_n_positive(block, n)
        rows.append(r + start)
        cols.append(c)
        values.append(block[r, c])
    return sp.csr_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(n_products, n_products))


def keep_top_n_per_row(matrix: sp.csr_matrix, n: int) -> sp.csr_matrix:
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
