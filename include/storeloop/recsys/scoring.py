"""Scoring with a model: every customer's top-k products and every product's related products, with an explicit
fallback where the model has nothing to say, over the products the store can sell.

- Customers with history: the model's top `k`, with the excluded (ineligible) products removed *before* the cut, so
  a list stays full whenever the model has `k` other products (`Recommender.recommend(..., exclude=)`). Source
  `model`.
- Customers without history (in `dim_customers`, no purchase): the model's popularity over eligible products
  (`Recommender.popularity`, fixed at fit time, so the list does not churn nightly). Source `trending`.
- Customers with history, discovery (`discovery_recommendations`, published as `for_you`): the `for_you` model's top
  `k` among eligible products the customer never bought: exactly the `new` setting's list that model was promoted on
  (protocol.new_items_only). Customers without history get none (their trending list is already all new to them).
- Products: the model's related products (rows with a positive score: real co-purchase neighbours) over eligible
  products, then filled up to `k` with eligible products of the same `product_type`, then of the same `vendor`, then
  trending, each in popularity order, never the product itself. Sources `model`, `same_type`, `same_vendor`,
  `trending`.

Pure functions over DataFrames: the warehouse reads and writes are storeloop.warehouse's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from storeloop.recsys.interactions import RECOMMENDATION_COLUMNS, empty_recommendations, not_cancelled
from storeloop.recsys.protocol import new_items_only
from storeloop.recsys.pyfunc import DEFAULT_K, model_input

MODEL, TRENDING, SAME_TYPE, SAME_VENDOR = "model", "trending", "same_type", "same_vendor"
SOURCES = (MODEL, SAME_TYPE, SAME_VENDOR, TRENDING)
CUSTOMER_COLUMNS = (*RECOMMENDATION_COLUMNS, "source")
PRODUCT_COLUMNS = ("product_id", "related_product_id", "rank", "score", "source")


def recommender_of(model: Any) -> Any:
    """The fitted `Recommender` inside a loaded pyfunc model (or the recommender itself)."""
    if hasattr(model, "recommend"):
        return model
    unwrap = getattr(model, "unwrap_python_model", None)
    if unwrap is None:
        raise TypeError(f"{type(model).__name__} is neither a Recommender nor a Storeloop pyfunc model")
    return unwrap().recommender


def score_customers(model: Any, order_lines: pd.DataFrame, k: int = DEFAULT_K,
                    exclude: Iterable[str] | None = None, features: Any = None) -> pd.DataFrame:
    """Top-`k` products for every customer with a purchase in `order_lines`, never a product in `exclude`.

    `model` is a fitted recommender or a loaded Storeloop pyfunc model. Cancelled lines (if the column is present)
    and lines without customer or product are ignored. Columns: `customer_id, product_id, rank, score`. A model that
    ranks on the dbt feature models (`needs_features`) reads `features` (recsys/ranker.FeatureTables, as of now).
    """
    history = model_input(not_cancelled(order_lines))
    if history.empty:
        return empty_recommendations()
    recommender = recommender_of(model)
    if recommender.needs_features:
        if features is None:
            raise ValueError(f"{recommender.name} ranks on the dbt feature models: pass their tables (features=)")
        recs = recommender.recommend(history, k=k, exclude=exclude, features=features)
    else:
        recs = recommender.recommend(history, k=k, exclude=exclude)
    return recs[list(RECOMMENDATION_COLUMNS)].reset_index(drop=True)


def discovery_recommendations(model: Any, order_lines: pd.DataFrame, eligible: Iterable[str], k: int = DEFAULT_K,
                              features: Any = None) -> pd.DataFrame:
    """Every customer's `for_you` list (`CUSTOMER_COLUMNS`, source `model`): the model's top `k` among the `eligible`
    products the customer has not bought (non-cancelled lines of `order_lines`)."""
    history = model_input(not_cancelled(order_lines))
    if history.empty:
        return empty_recommendations().assign(source=pd.Series([], dtype=object))
    recommender = recommender_of(model)
    eligible = pd.Index(sorted(set(map(str, eligible))), dtype=object)
    exclude = pd.Index(recommender.products_, dtype=object).difference(eligible)
    if recommender.needs_features and features is None:
        raise ValueError(f"{recommender.name} ranks on the dbt feature models: pass their tables (features=)")

    def recommend(customers_history: pd.DataFrame, n: int) -> pd.DataFrame:
        extra = {"features": features} if recommender.needs_features else {}
        return recommender.recommend(customers_history, k=n, exclude=exclude, **extra)

    bought = history[["customer_id", "product_id"]].astype(str).drop_duplicates()
    recs = new_items_only(recommend, history, bought, k)
    return recs.assign(source=MODEL)[list(CUSTOMER_COLUMNS)].reset_index(drop=True)


def trending(popularity: pd.Series, eligible: Iterable[str]) -> pd.Series:
    """`popularity` (product id → score) over the eligible products only, eligible products the model never saw
    scoring 0, sorted by score then product id: the fallback order."""
    eligible_ids = pd.Index(sorted(set(map(str, eligible))), dtype=object)
    scores = popularity.reindex(eligible_ids, fill_value=0.0).astype(np.float64)
    frame = pd.DataFrame({"product_id": scores.index, "score": scores.to_numpy()})
    frame = frame.sort_values(["score", "product_id"], ascending=[False, True], kind="stable")
    return pd.Series(frame["score"].to_numpy(), index=pd.Index(frame["product_id"], dtype=object))


def customer_recommendations(model: Any, order_lines: pd.DataFrame, customers: Iterable[str],
                             eligible: Iterable[str], k: int = DEFAULT_K, features: Any = None) -> pd.DataFrame:
    """Every customer's list (`CUSTOMER_COLUMNS`): the model's for customers with history, trending for the
    `customers` (e.g. `dim_customers`) without any; only `eligible` products."""
    recommender = recommender_of(model)
    eligible = pd.Index(sorted(set(map(str, eligible))), dtype=object)
    known = pd.Index(recommender.products_, dtype=object)
    scored = score_customers(recommender, order_lines, k, exclude=known.difference(eligible), features=features)
    scored["source"] = MODEL
    without = pd.Index(sorted(set(map(str, customers))), dtype=object).difference(pd.Index(scored["customer_id"]))
    top = trending(recommender.popularity(), eligible).iloc[:k]
    fallback = pd.DataFrame({
        "customer_id": np.repeat(without.to_numpy(dtype=object), len(top)),
        "product_id": np.tile(top.index.to_numpy(dtype=object), len(without)),
        "rank": np.tile(np.arange(1, len(top) + 1, dtype=np.int64), len(without)),
        "score": np.tile(top.to_numpy(), len(without)),
        "source": TRENDING,
    })
    return pd.concat([scored[list(CUSTOMER_COLUMNS)], fallback], ignore_index=True)


def _fill(lists: pd.DataFrame, owners: pd.DataFrame, group_col: str | None, candidates: pd.DataFrame,
          k: int, source: str) -> pd.DataFrame:
    """Rows to add so that each owner's list reaches `k`: `candidates` (`product_id, score, <group_col>`, in fill
    order) sharing the owner's `group_col` (all candidates when None), not the owner, not already listed."""
    have = lists.groupby("product_id").size()
    need = (k - have.reindex(owners["product_id"], fill_value=0)).clip(lower=0)
    needy = owners.loc[need.to_numpy() > 0, ["product_id", *([group_col] if group_col else [])]]
    if group_col:
        needy = needy.loc[needy[group_col].notna()]
    if needy.empty or candidates.empty:
        return lists.iloc[:0]
    # each owner takes at most k - have more, and loses at most have + 1 candidates (listed ones, itself): the top
    # 2k + 1 of its group always suffice
    pool = candidates.rename(columns={"product_id": "related_product_id"})
    if group_col:
        pool = pool.loc[pool[group_col].notna()]
        pool = pool.groupby(group_col, sort=False).head(2 * k + 1)
        pairs = needy.merge(pool, on=group_col, how="inner")
    else:
        pairs = needy.merge(pool.head(2 * k + 1), how="cross")
    pairs = pairs.loc[pairs["product_id"] != pairs["related_product_id"], ["product_id", "related_product_id", "score"]]
    listed = pd.MultiIndex.from_frame(lists[["product_id", "related_product_id"]])
    pairs = pairs.loc[~pd.MultiIndex.from_frame(pairs[["product_id", "related_product_id"]]).isin(listed)]
    pairs["slot"] = pairs.groupby("product_id", sort=False).cumcount()
    pairs = pairs.loc[pairs["slot"].to_numpy() < need.reindex(pairs["product_id"]).to_numpy()]
    pairs["rank"] = have.reindex(pairs["product_id"], fill_value=0).to_numpy() + pairs["slot"].to_numpy() + 1
    pairs["source"] = source
    return pairs[list(PRODUCT_COLUMNS)]


def product_recommendations(related: pd.DataFrame, products: pd.DataFrame, popularity: pd.Series,
                            k: int = DEFAULT_K) -> pd.DataFrame:
    """Every product's related products (`PRODUCT_COLUMNS`, ranks 1..k), eligible products only.

    `related` is the model's table (`product_id, related_product_id, rank, score`; rows scoring 0 are a model's own
    popularity fill-in and are replaced by the explicit fallback); `products` has `product_id, product_type, vendor,
    is_eligible` for every product that gets a list (an ineligible product still gets one: its page may be visible);
    `popularity` is the model's (`Recommender.popularity`)."""
    products = products.assign(product_id=products["product_id"].astype(str)).drop_duplicates("product_id")
    eligible = products.loc[products["is_eligible"].astype(bool)]
    order = trending(popularity, eligible["product_id"])
    candidates = pd.DataFrame({"product_id": order.index, "score": order.to_numpy()}).merge(
        eligible[["product_id", "product_type", "vendor"]], on="product_id", how="left")
    model_rows = related.loc[(related["score"] > 0)
                             & related["product_id"].astype(str).isin(products["product_id"])
                             & related["related_product_id"].astype(str).isin(eligible["product_id"])
                             & (related["product_id"].astype(str) != related["related_product_id"].astype(str))]
    model_rows = model_rows.assign(product_id=model_rows["product_id"].astype(str),
                                   related_product_id=model_rows["related_product_id"].astype(str))
    model_rows = model_rows.sort_values(["product_id", "rank"], kind="stable")
    model_rows = model_rows.assign(rank=model_rows.groupby("product_id").cumcount() + 1)
    lists = model_rows.loc[model_rows["rank"] <= k].assign(source=MODEL)[list(PRODUCT_COLUMNS)]
    lists = lists.astype({"rank": np.int64, "score": np.float64})
    for group_col, source in (("product_type", SAME_TYPE), ("vendor", SAME_VENDOR), (None, TRENDING)):
        added = _fill(lists, products, group_col, candidates, k, source)
        lists = pd.concat([lists, added], ignore_index=True)
    return lists.sort_values(["product_id", "rank"], kind="stable").reset_index(drop=True)


def list_overlap(a: pd.DataFrame, b: pd.DataFrame, owner_col: str, item_col: str, k: int = 10) -> dict[str, float]:
    """How two rankings of the same owners agree: mean overlap@k (shared items in the two top-k / k) over the owners
    of `a`, and the share of those owners whose top-k lists differ (as ordered lists)."""
    top_a = a.loc[a["rank"] <= k, [owner_col, item_col, "rank"]]
    top_b = b.loc[b["rank"] <= k, [owner_col, item_col, "rank"]]
    owners = top_a[owner_col].nunique()
    if owners == 0:
        return {"owners": 0, "overlap": float("nan"), "differ_share": float("nan")}
    shared = top_a.merge(top_b[[owner_col, item_col]], on=[owner_col, item_col]).groupby(owner_col).size()
    overlap = shared.reindex(top_a[owner_col].unique(), fill_value=0).to_numpy() / k
    same_rank = top_a.merge(top_b, on=[owner_col, item_col, "rank"]).groupby(owner_col).size()
    sizes_a, sizes_b = top_a.groupby(owner_col).size(), top_b.groupby(owner_col).size()
    owners_a = sizes_a.index
    identical = (same_rank.reindex(owners_a, fill_value=0) == sizes_a) & (sizes_b.reindex(owners_a) == sizes_a)
    return {"owners": int(owners), "overlap": float(overlap.mean()), "differ_share": float(1 - identical.mean())}
