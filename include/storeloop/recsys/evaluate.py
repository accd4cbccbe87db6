"""Ranking metrics over a holdout: hit rate, precision, recall, NDCG and MAP at k (binary relevance).

Relevant items of a customer = the distinct products they bought in the holdout. Metrics are averaged over the
evaluated customers; a customer with no recommendation scores 0. Precision divides by k (not by the number of
recommendations given). NDCG uses gains 1/log2(rank + 1) and the ideal DCG of min(|relevant|, k) hits. AP@k is the
mean of precision@rank over the ranks of the hits, divided by min(|relevant|, k) (so MAP@k is in [0, 1]).

The list functions (`hit_rate_at_k`, ...) score one customer and document the definitions; `evaluate_recommendations`
computes the same numbers for all customers at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

# per_customer_metrics column -> metric name in summaries (`{name}_at_{k}`)
METRIC_COLUMNS = {"hit_rate": "hit_rate", "precision": "precision", "recall": "recall", "ndcg": "ndcg", "ap": "map"}


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def hit_rate_at_k(recommended: Sequence[str], relevant: Iterable[str], k: int) -> float:
    rel = set(relevant)
    return float(any(item in rel for item in recommended[:k]))


def precision_at_k(recommended: Sequence[str], relevant: Iterable[str], k: int) -> float:
    rel = set(relevant)
    return sum(item in rel for item in recommended[:k]) / k


def recall_at_k(recommended: Sequence[str], relevant: Iterable[str], k: int) -> float:
    rel = set(relevant)
    if not rel:
        raise ValueError("recall is undefined for a customer with no relevant items")
    return sum(item in rel for item in recommended[:k]) / len(rel)


def ndcg_at_k(recommended: Sequence[str], relevant: Iterable[str], k: int) -> float:
    rel = set(relevant)
    if not rel:
        raise ValueError("NDCG is undefined for a customer with no relevant items")
    disc = _discounts(k)
    dcg = sum(disc[i] for i, item in enumerate(recommended[:k]) if item in rel)
    return float(dcg / disc[: min(len(rel), k)].sum())


def average_precision_at_k(recommended: Sequence[str], relevant: Iterable[str], k: int) -> float:
    rel = set(relevant)
    if not rel:
        raise ValueError("AP is undefined for a customer with no relevant items")
    hits, total = 0, 0.0
    for i, item in enumerate(recommended[:k], start=1):
        if item in rel:
            hits += 1
            total += hits / i
    return total / min(len(rel), k)


def relevant_items(holdout: pd.DataFrame, customers: Iterable[str] | None = None) -> pd.DataFrame:
    """Distinct (customer_id, product_id) pairs bought in the holdout, optionally only for `customers`."""
    rel = holdout.loc[holdout["customer_id"].notna() & holdout["product_id"].notna(), ["customer_id", "product_id"]]
    rel = rel.astype(str).drop_duplicates()
    if customers is not None:
        rel = rel.loc[rel["customer_id"].isin(pd.Index(list(customers), dtype=object).astype(str))]
    return rel.reset_index(drop=True)


def per_customer_metrics(recommendations: pd.DataFrame, relevant: pd.DataFrame, k: int) -> pd.DataFrame:
    """One row per customer in `relevant`: n_relevant, hits, hit_rate, precision, recall, ndcg, ap (all at k)."""
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    recs = recommendations.loc[recommendations["rank"] <= k, ["customer_id", "product_id", "rank"]].astype(
        {"customer_id": str, "product_id": str}
    )
    recs = recs.sort_values(["customer_id", "rank"]).drop_duplicates(["customer_id", "product_id"])
    n_relevant = relevant.groupby("customer_id").size().rename("n_relevant")
    hits = recs.merge(relevant, on=["customer_id", "product_id"], how="inner")
    hits = hits.sort_values(["customer_id", "rank"], kind="stable")
    hits["gain"] = 1.0 / np.log2(hits["rank"].to_numpy(dtype=np.float64) + 1.0)
    hits["precision_at_hit"] = (hits.groupby("customer_id").cumcount() + 1) / hits["rank"].to_numpy(np.float64)
    per_hit = hits.groupby("customer_id").agg(
        hits=("gain", "size"), dcg=("gain", "sum"), ap_sum=("precision_at_hit", "sum")
    )
    out = pd.DataFrame(n_relevant).join(per_hit, how="left").fillna({"hits": 0, "dcg": 0.0, "ap_sum": 0.0})
    ideal = np.concatenate([[0.0], np.cumsum(_discounts(k))])
    idcg = ideal[np.minimum(out["n_relevant"].to_numpy(), k)]
    out["hit_rate"] = (out["hits"] > 0).astype(np.float64)
    out["precision"] = out["hits"] / k
    out["recall"] = out["hits"] / out["n_relevant"]
    out["ndcg"] = out["dcg"] / idcg
    out["ap"] = out["ap_sum"] / np.minimum(out["n_relevant"].to_numpy(), k)
    return out.drop(columns=["dcg", "ap_sum"]).reset_index()


def evaluate_recommendations(
    recommendations: pd.DataFrame,
    holdout: pd.DataFrame,
    k: int = 10,
    customers: Iterable[str] | None = None,
) -> dict[str, float]:
    """Mean metrics at `k` over the customers with holdout purchases (restricted to `customers` if given).

    Returns `{"hit_rate_at_{k}", "precision_at_{k}", "recall_at_{k}", "ndcg_at_{k}", "map_at_{k}",
    "n_eval_customers"}`.
    """
    return summarise(per_customer_metrics(recommendations, relevant_items(holdout, customers), k), k)


def summarise(per_customer: pd.DataFrame, k: int) -> dict[str, float]:
    """Means of a `per_customer_metrics` table, named `{metric}_at_{k}`, plus `n_eval_customers`."""
    n = len(per_customer)
    result: dict[str, float] = {}
    for column, name in METRIC_COLUMNS.items():
        result[f"{name}_at_{k}"] = float(per_customer[column].mean()) if n else 0.0
    result["n_eval_customers"] = float(n)
    return result
