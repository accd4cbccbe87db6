"""The evaluation protocol every model goes through, candidates and the live champion alike.

- Time-based holdout (`split.time_split`): models see only lines before the cutoff; the customers evaluated are those
  who bought both before and after it; their relevant items are the distinct products bought after it.
- Two settings:
  * `all`: every product may be recommended and every holdout purchase counts (re-buys included);
  * `new`: "new items only": products the customer bought before the cutoff are removed from the ranking *and*
    from the relevant set; customers with no new product in the holdout are not evaluated in this setting.
- Metrics at k: precision, recall, hit rate, NDCG, MAP, and catalogue coverage (share of the products known at the
  cutoff that appear in at least one evaluated customer's top k).
- `new_in_list`: the all-items list *as it would be published*, judged on the new items only (the relevant set of
  the `new` setting, the list not re-ranked): how much discovery the list a shopper sees carries. A "buy again" list
  scores near zero here even when its re-ranked `new` figures look fine.
- By segment: the per-customer metrics grouped by country and by cohort (month of first order).

A model is evaluated through a function `recommend(history, k) -> recommendations`, so a fitted recommender and a
pyfunc loaded from the registry are measured by exactly the same code. The new-items ranking is obtained by asking
the model for `k + (number of products the customer bought)` items and dropping the bought ones, which gives the
same list as masking them before the top-k (the order among the remaining products is unchanged); the all-items
list is the first `k` of the same answer (`ranked_lists`). Customers are grouped by history size (powers of two)
so the extra length stays small.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from storeloop.recsys.evaluate import METRIC_COLUMNS, per_customer_metrics, relevant_items, summarise
from storeloop.recsys.interactions import basket_keys
from storeloop.recsys.split import TimeSplit

RecommendFn = Callable[[pd.DataFrame, int], pd.DataFrame]
SETTINGS: tuple[str, ...] = ("all", "new")
NEW_IN_LIST = "new_in_list"  # the all-items list judged on new items only (module docstring)
UNKNOWN = "unknown"


@dataclass(frozen=True)
class EvaluationData:
    """What every model is evaluated on (computed once per training run)."""

    history: pd.DataFrame  # training lines of the evaluated customers (the model's input)
    relevant: dict[str, pd.DataFrame]  # setting -> (customer_id, product_id) relevant pairs
    bought: pd.DataFrame  # (customer_id, product_id) bought before the cutoff by the evaluated customers
    n_catalogue: int  # products known at the cutoff (coverage denominator)
    segments: pd.DataFrame | None  # customer_id, country, cohort


@dataclass(frozen=True)
class Evaluation:
    metrics: dict[str, float]  # "{setting}.{metric}_at_{k}", "{setting}.coverage_at_{k}", "{setting}.n_eval_customers"
    per_customer: dict[str, pd.DataFrame]  # setting -> per_customer_metrics table
    segments: pd.DataFrame  # setting, segment_type, segment, n_customers, metric means


def evaluation_data(split: TimeSplit, segments: pd.DataFrame | None = None) -> EvaluationData:
    customers = pd.Index(split.eval_customers.astype(str))
    train = split.train.loc[split.train["customer_id"].notna() & split.train["product_id"].notna()]
    history = train.loc[train["customer_id"].astype(str).isin(customers)]
    bought = history[["customer_id", "product_id"]].astype(str).drop_duplicates().reset_index(drop=True)
    rel_all = relevant_items(split.holdout, customers)
    flagged = rel_all.merge(bought.assign(_bought=True), on=["customer_id", "product_id"], how="left")
    rel_new = flagged.loc[flagged["_bought"].isna(), ["customer_id", "product_id"]].reset_index(drop=True)
    return EvaluationData(
        history=history.reset_index(drop=True),
        relevant={"all": rel_all, "new": rel_new},
        bought=bought,
        n_catalogue=int(train["product_id"].nunique()),
        segments=segments,
    )


def ranked_lists(recommend: RecommendFn, history: pd.DataFrame, bought: pd.DataFrame,
                 k: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both settings' lists from one pass over the customers of `history`: the top `k` over all products, and the top
    `k` among products they have not bought (`bought`: customer_id, product_id as str). The model is asked once per
    group of customers for `k + 2^ceil(log2(n bought))` products; the all-items list is the first `k` of that ranking
    (a model ranks by score, so its first `k` of a longer list are its top `k`), the new-items list that ranking
    without the bought products. One call per customer instead of two halves the evaluation of a model whose cost
    is per customer, not per listed product (the ranker, TIFU-KNN). Columns `customer_id, product_id, rank, score`."""
    n_bought = bought.groupby("customer_id").size()
    extra = np.power(2, np.ceil(np.log2(np.maximum(n_bought.to_numpy(), 1)))).astype(np.int64)
    bucket = pd.Series(extra, index=n_bought.index)
    history_customers = history["customer_id"].astype(str)
    columns = ["customer_id", "product_id", "rank", "score"]
    frames = []
    for size in np.unique(extra):
        members = bucket.index[bucket.to_numpy() == size]
        recs = recommend(history.loc[history_customers.isin(members)], k + int(size))
        frames.append(recs[columns].astype({"customer_id": str, "product_id": str}))
    recs = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    recs = recs.sort_values(["customer_id", "rank"], kind="stable")
    all_recs = recs.loc[recs.groupby("customer_id").cumcount() < k].reset_index(drop=True)
    recs = recs.merge(bought.assign(_bought=True), on=["customer_id", "product_id"], how="left")
    recs = recs.loc[recs["_bought"].isna()]
    recs["rank"] = recs.groupby("customer_id").cumcount() + 1
    return all_recs, recs.loc[recs["rank"] <= k, columns].reset_index(drop=True)


def new_items_only(recommend: RecommendFn, history: pd.DataFrame, bought: pd.DataFrame, k: int) -> pd.DataFrame:
    """Top-k per customer of `history` among products they have not bought, from the model's own ranking: the `new`
    setting's lists, and the published `for_you` list (recsys/scoring.discovery_recommendations)."""
    return ranked_lists(recommend, history, bought, k)[1]


def coverage(recs: pd.DataFrame, k: int, n_catalogue: int) -> float:
    if n_catalogue <= 0:
        return 0.0
    return float(recs.loc[recs["rank"] <= k, "product_id"].nunique() / n_catalogue)


def evaluate_model(recommend: RecommendFn, data: EvaluationData, k: int = 10) -> Evaluation:
    """Evaluate one model in both settings (see the module docstring)."""
    all_recs, new_recs = ranked_lists(recommend, data.history, data.bought, k)
    all_recs = all_recs[["customer_id", "product_id", "rank"]]
    recs = {"all": all_recs, "new": new_recs[["customer_id", "product_id", "rank"]]}
    metrics: dict[str, float] = {}
    per_customer: dict[str, pd.DataFrame] = {}
    for setting in SETTINGS:
        evaluated = set(data.relevant[setting]["customer_id"])
        setting_recs = recs[setting].loc[recs[setting]["customer_id"].isin(evaluated)]
        table = per_customer_metrics(setting_recs, data.relevant[setting], k)
        per_customer[setting] = table
        metrics.update({f"{setting}.{name}": value for name, value in summarise(table, k).items()})
        metrics[f"{setting}.coverage_at_{k}"] = coverage(setting_recs, k, data.n_catalogue)
    evaluated = set(data.relevant["new"]["customer_id"])
    as_published = per_customer_metrics(all_recs.loc[all_recs["customer_id"].isin(evaluated)], data.relevant["new"], k)
    metrics.update({f"{NEW_IN_LIST}.{name}": value for name, value in summarise(as_published, k).items()})
    return Evaluation(metrics=metrics, per_customer=per_customer, segments=segment_metrics(per_customer, data.segments))


def segment_metrics(per_customer: dict[str, pd.DataFrame], segments: pd.DataFrame | None) -> pd.DataFrame:
    """Mean metrics per country and per cohort, for each setting (customers without a segment are 'unknown')."""
    frames = []
    for setting, table in per_customer.items():
        if segments is not None:
            seg = segments[["customer_id", "country", "cohort"]].astype({"customer_id": str})
            joined = table.merge(seg, on="customer_id", how="left")
        else:
            joined = table.assign(country=UNKNOWN, cohort=UNKNOWN)
        joined[["country", "cohort"]] = joined[["country", "cohort"]].fillna(UNKNOWN).astype(str)
        for segment_type in ("country", "cohort"):
            grouped = joined.groupby(segment_type)
            out = grouped[list(METRIC_COLUMNS)].mean().rename(columns=METRIC_COLUMNS)
            out.insert(0, "n_customers", grouped.size())
            out = out.reset_index().rename(columns={segment_type: "segment"})
            out.insert(0, "segment_type", segment_type)
            out.insert(0, "setting", setting)
            frames.append(out)
    columns = ["setting", "segment_type", "segment", "n_customers", *METRIC_COLUMNS.values()]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def customer_segments(order_lines: pd.DataFrame, customers: pd.DataFrame | None = None) -> pd.DataFrame:
    """customer_id, country, cohort ("YYYY-MM") for every customer in `order_lines`.

    From `marts.dim_customers` (customer_id, country_code, cohort_month) when given; otherwise the cohort is the
    month of the customer's first order in `order_lines` and the country is "unknown".
    """
    lines = order_lines.loc[order_lines["customer_id"].notna()]
    first = pd.to_datetime(lines["ordered_at"], utc=True).groupby(lines["customer_id"].astype(str)).min()
    frame = pd.DataFrame({"customer_id": first.index.astype(str), "cohort": first.dt.strftime("%Y-%m").to_numpy()})
    frame["country"] = UNKNOWN
    if customers is None or customers.empty:
        return frame[["customer_id", "country", "cohort"]]
    dim = customers.assign(customer_id=customers["customer_id"].astype(str)).drop_duplicates("customer_id")
    dim = dim.set_index("customer_id")
    country = dim["country_code"].reindex(frame["customer_id"]) if "country_code" in dim else None
    if country is not None:
        frame["country"] = country.fillna(UNKNOWN).astype(str).to_numpy()
    if "cohort_month" in dim:
        cohort = pd.to_datetime(dim["cohort_month"].reindex(frame["customer_id"]), utc=True)
        frame["cohort"] = np.where(cohort.notna(), cohort.dt.strftime("%Y-%m"), frame["cohort"])
    return frame[["customer_id", "country", "cohort"]]


def evaluate_related(related: pd.DataFrame, holdout: pd.DataFrame, k: int = 5) -> dict[str, float]:
    """Basket completion on the holdout: for each (order, product) of an order with 2+ distinct products, is one of
    the other products of that order among the product's top-k related products? Returns hit rate and n."""
    lines = holdout.loc[holdout["product_id"].notna() & holdout["customer_id"].notna()]
    if lines.empty:
        return {f"related_hit_rate_at_{k}": 0.0, "related_n_anchors": 0.0}
    baskets = pd.DataFrame({"basket": basket_keys(lines), "product_id": lines["product_id"].astype(str).to_numpy()})
    baskets = baskets.drop_duplicates()
    sizes = baskets.groupby("basket")["product_id"].transform("size")
    baskets = baskets.loc[sizes >= 2]
    anchors = baskets[["basket", "product_id"]].drop_duplicates()
    rel = related.loc[related["rank"] <= k, ["product_id", "related_product_id"]].astype(str)
    pairs = anchors.merge(rel, on="product_id").merge(
        baskets.rename(columns={"product_id": "related_product_id"}), on=["basket", "related_product_id"]
    )
    hits = pairs[["basket", "product_id"]].drop_duplicates()
    n = len(anchors)
    return {f"related_hit_rate_at_{k}": float(len(hits) / n) if n else 0.0, "related_n_anchors": float(n)}
