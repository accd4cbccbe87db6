"""Hand-made feature tables for the ranker's unit tests: the columns of the dbt feature models the ranker reads
(`recsys.ranker.FEATURE_MODELS`), computed plainly from a purchase history as of a cutoff. The real ones are built
by dbt (tests/integration/test_ranker_feature_snapshots.py checks those); these only give the unit tests a
planted signal without a database."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from storeloop.recsys.ranker import FeatureTables, feature_tables


def tables_as_of(lines: pd.DataFrame, product_types: dict[str, str], as_of: pd.Timestamp) -> FeatureTables:
    """Feature tables of `lines` (customer_id, product_id, order_id, ordered_at, quantity) up to `as_of`."""
    seen = lines.loc[lines["ordered_at"] <= as_of]
    age = (as_of - seen["ordered_at"]).dt.total_seconds() / 86_400
    seen = seen.assign(age=age)
    orders = seen.groupby("customer_id")["order_id"].nunique()
    customers = pd.DataFrame({
        "customer_id": orders.index,
        "recency_days": seen.groupby("customer_id")["age"].min().reindex(orders.index).to_numpy(),
        "frequency": orders.to_numpy(),
        "tenure_days": seen.groupby("customer_id")["age"].max().reindex(orders.index).to_numpy(),
        "monetary": seen.groupby("customer_id")["quantity"].sum().reindex(orders.index).to_numpy(float),
        "average_order_value": 1.0,
        "orders_last_90d": orders.to_numpy(),
        "n_distinct_products": seen.groupby("customer_id")["product_id"].nunique().reindex(orders.index).to_numpy(),
    })
    units = seen.groupby("product_id")["quantity"]
    products = pd.DataFrame({"product_id": list(product_types), "product_type": list(product_types.values())})
    recent = seen.loc[seen["age"] < 30].groupby("product_id")["quantity"].sum()
    products = products.assign(
        price=1.0, units_7d=seen.loc[seen["age"] < 7].groupby("product_id")["quantity"].sum()
        .reindex(products["product_id"]).fillna(0).to_numpy(),
        units_30d=recent.reindex(products["product_id"]).fillna(0).to_numpy(),
        units_90d=units.sum().reindex(products["product_id"]).fillna(0).to_numpy(),
        trend_30d=0.0, customers_90d=seen.groupby("product_id")["customer_id"].nunique()
        .reindex(products["product_id"]).fillna(0).to_numpy(), days_since_last_sale=0.0)
    pair = seen.groupby(["customer_id", "product_id"])
    pairs = pair.agg(n_orders=("order_id", "nunique"), quantity=("quantity", "sum"),
                     days_since_last_purchase=("age", "min"), first=("age", "max")).reset_index()
    pairs["repurchase_interval_days"] = np.where(pairs["n_orders"] > 1, (pairs["first"] - pairs[
        "days_since_last_purchase"]) / (pairs["n_orders"] - 1).clip(lower=1), np.nan)
    pairs["recency_weighted_strength"] = pairs["n_orders"].astype(float)
    pairs["order_share"] = pairs["n_orders"] / pairs["customer_id"].map(orders)
    baskets = seen.groupby("order_id")["product_id"].apply(lambda s: sorted(set(s)))
    co = pd.DataFrame([(a, b) for items in baskets for a, b in itertools.permutations(items, 2)],
                      columns=["product_id", "other_product_id"])
    co = co.value_counts().rename("pair_count").reset_index()
    per_product = seen.groupby("product_id")["order_id"].nunique()
    co["confidence"] = co["pair_count"] / co["product_id"].map(per_product)
    co["lift"] = co["confidence"] * len(baskets) / co["other_product_id"].map(per_product)
    frames = {"customer_features": customers, "product_features": products,
              "fct_customer_product_interactions": pairs.drop(columns="first"), "product_co_purchase": co}
    return feature_tables(frames, as_of)


def staples_store(n_customers: int = 300, seed: int = 0) -> tuple[pd.DataFrame, dict[str, str], dict[str, set]]:
    """A store where every customer buys 3 staples and 3 other products alike for 60 days, then only their staples:
    what comes next is told by the product type alone (lines, product types, each customer's staples)."""
    rng = np.random.default_rng(seed)
    types = {f"p{i:02d}": ("staple" if i < 10 else "other") for i in range(30)}
    staple_ids, other_ids = [p for p, t in types.items() if t == "staple"], [p for p, t in types.items() if t == "other"]
    t0 = pd.Timestamp("2026-01-01")
    rows, staples = [], {}
    for c in range(n_customers):
        cid = f"c{c:03d}"
        mine = list(rng.choice(staple_ids, 3, replace=False))
        others = list(rng.choice(other_ids, 3, replace=False))
        staples[cid] = set(mine)
        for o in range(6):  # days 0-59: two of the six, staples and others alike
            day = o * 10 + int(rng.integers(0, 9))
            for p in rng.choice(mine + others, 2, replace=False):
                rows.append((cid, p, f"{cid}-a{o}", t0 + pd.Timedelta(days=day, hours=c % 24)))
        for o, day in enumerate((65, 80, 95, 110)):  # afterwards: the staples only
            for p in mine:
                rows.append((cid, p, f"{cid}-b{o}", t0 + pd.Timedelta(days=day + int(rng.integers(0, 5)), hours=c % 24)))
    lines = pd.DataFrame(rows, columns=["customer_id", "product_id", "order_id", "ordered_at"]).assign(quantity=1)
    return lines, types, staples
