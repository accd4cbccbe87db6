"""Stand-in order lines for tests and benchmarks: a fixture, not part of the product.

The product reads `marts.fct_order_lines` (and `marts.dim_customers`, `marts.dim_products`) as dbt builds them in the
warehouse. This module builds frames of the same columns in memory, without a database, two ways:

- `make_store`: a small synthetic store with a known structure. Customers each prefer one product type and buy from
  it most of the time; within a type, products have skewed (Zipf-like) popularity, so a personalised model should
  beat a global popularity list. An optional shift in the last `shift_days` raises prices and concentrates demand on
  a few product types, for drift tests.
- `order_lines_from_simulation`, `customers_from_simulation`: the marts computed in pandas from a
  `sandbox.store_simulator.StoreData` (a re-implementation of dbt's `fct_order_lines`, for `bench/bench_train.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from sandbox.store_simulator import StoreData


@dataclass(frozen=True)
class SyntheticStore:
    order_lines: pd.DataFrame  # columns of marts.fct_order_lines
    products: pd.DataFrame  # columns of marts.dim_products


def make_store(
    *,
    n_customers: int = 2000,
    n_products: int = 300,
    n_types: int = 10,
    days: int = 365,
    orders_per_customer: float = 5.0,
    affinity: float = 0.85,
    end: str = "2026-10-31",
    shift_days: int = 0,
    price_shift: float = 1.6,
    seed: int = 0,
) -> SyntheticStore:
    rng = np.random.default_rng(seed)
    product_ids = np.array([f"gid://shopify/Product/{1000 + i}" for i in range(n_products)], dtype=object)
    types = np.arange(n_products) % n_types
    type_names = np.array([f"type_{t:02d}" for t in range(n_types)], dtype=object)
    prices = np.round(rng.lognormal(mean=3.2, sigma=0.6, size=n_products), 2)
    # Zipf-like popularity within each type, in a random order so product ids carry no information
    within = np.empty(n_products)
    for t in range(n_types):
        members = np.flatnonzero(types == t)
        within[rng.permutation(members)] = 1.0 / np.arange(1, len(members) + 1) ** 1.1
    global_pop = within / within.sum()

    customer_ids = np.array([f"gid://shopify/Customer/{5000 + i}" for i in range(n_customers)], dtype=object)
    favourite = rng.integers(0, n_types, size=n_customers)
    n_orders = rng.poisson(orders_per_customer, size=n_customers) + 1

    end_ts = pd.Timestamp(end, tz="UTC")
    start_ts = end_ts - pd.Timedelta(days=days)
    shift_start = end_ts - pd.Timedelta(days=shift_days) if shift_days else None

    order_cust = np.repeat(np.arange(n_customers), n_orders)
    n_total_orders = len(order_cust)
    offsets = rng.uniform(0, days * 86_400, size=n_total_orders)
    ordered_at = start_ts + pd.to_timedelta(np.sort(offsets), unit="s")
    order_cust = rng.permutation(order_cust)  # decouple customers from time
    lines_per_order = rng.integers(1, 4, size=n_total_orders)

    line_order = np.repeat(np.arange(n_total_orders), lines_per_order)
    line_cust = order_cust[line_order]
    line_time = ordered_at[line_order]
    shifted = (line_time >= shift_start) if shift_start is not None else np.zeros(len(line_order), dtype=bool)
    pref_type = favourite[line_cust]
    # demand concentrates on the first third of the product types
    pref_type = np.where(shifted, pref_type % max(1, n_types // 3), pref_type)
    from_favourite = rng.random(len(line_order)) < affinity

    # draw a product per line: from the preferred type (by within-type popularity) or from the global popularity
    cdf_global = np.cumsum(global_pop)
    chosen = np.searchsorted(cdf_global, rng.random(len(line_order)) * cdf_global[-1])
    type_cdfs = {}
    for t in range(n_types):
        members = np.flatnonzero(types == t)
        type_cdfs[t] = (members, np.cumsum(within[members]))
    for t, (members, cdf) in type_cdfs.items():
        rows = np.flatnonzero(from_favourite & (pref_type == t))
        chosen[rows] = members[np.searchsorted(cdf, rng.random(len(rows)) * cdf[-1])]
    chosen = np.minimum(chosen, n_products - 1)

    quantity = rng.choice([1, 1, 1, 1, 2, 2, 3], size=len(line_order))
    unit_price = prices[chosen] * np.where(shifted, price_shift, 1.0)
    order_lines = pd.DataFrame(
        {
            "order_line_id": [f"gid://shopify/LineItem/{i}" for i in range(len(line_order))],
            "order_id": [f"gid://shopify/Order/{i}" for i in line_order],
            "order_name": [f"#{1000 + i}" for i in line_order],
            "customer_id": customer_ids[line_cust],
            "product_id": product_ids[chosen],
            "variant_id": [p.replace("Product", "ProductVariant") for p in product_ids[chosen]],
            "quantity": quantity.astype(np.int64),
            "unit_price": np.round(unit_price, 2),
            "line_revenue": np.round(unit_price * quantity, 2),
            "ordered_at": line_time,
            "is_cancelled": False,
        }
    )
    products = pd.DataFrame(
        {
            "product_id": product_ids,
            "handle": [f"product-{i}" for i in range(n_products)],
            "title": [f"Product {i}" for i in range(n_products)],
            "product_type": type_names[types],
            "vendor": [f"vendor_{i % 7}" for i in range(n_products)],
            "status": "ACTIVE",
            "price": prices,
            "created_at": start_ts - pd.Timedelta(days=30),
        }
    )
    return SyntheticStore(order_lines=order_lines, products=products)


def order_lines_from_simulation(store: StoreData) -> pd.DataFrame:
    """`marts.fct_order_lines` as dbt would build it from a `sandbox.store_simulator.StoreData`, in memory.

    Mirrors the mart: one row per line item joined to its order, `ordered_at` = order `processed_at` else
    `created_at`, `is_cancelled` = the order has a `cancelled_at`. Used by benchmarks and tests that want the
    simulated store without a database (pass the StoreData in).
    """
    orders = store.orders[["order_id", "name", "customer_id", "created_at", "processed_at", "cancelled_at"]]
    lines = store.line_items[["line_item_id", "order_id", "product_id", "variant_id", "quantity", "unit_price"]]
    df = lines.merge(orders, on="order_id", how="inner", validate="many_to_one")
    ordered_at = pd.to_datetime(df["processed_at"].fillna(df["created_at"]), utc=True, format="ISO8601")
    quantity = df["quantity"].astype(np.int64)
    unit_price = df["unit_price"].astype(np.float64)
    return pd.DataFrame(
        {
            "order_line_id": df["line_item_id"].to_numpy(),
            "order_id": df["order_id"].to_numpy(),
            "order_name": df["name"].to_numpy(),
            "customer_id": df["customer_id"].to_numpy(),
            "product_id": df["product_id"].to_numpy(),
            "variant_id": df["variant_id"].to_numpy(),
            "quantity": quantity.to_numpy(),
            "unit_price": unit_price.to_numpy(),
            "line_revenue": np.round(quantity.to_numpy() * unit_price.to_numpy(), 2),
            "ordered_at": ordered_at.to_numpy(),
            "is_cancelled": df["cancelled_at"].notna().to_numpy(),
        }
    )


def customers_from_simulation(store: StoreData, order_lines: pd.DataFrame) -> pd.DataFrame:
    """`marts.dim_customers` (customer_id, country_code, cohort_month) for a simulated store, in memory."""
    lines = order_lines.loc[order_lines["customer_id"].notna()]
    first = pd.to_datetime(lines["ordered_at"], utc=True).groupby(lines["customer_id"]).min()
    cohort = first.dt.tz_localize(None).dt.to_period("M").dt.to_timestamp()
    customers = store.customers[["customer_id", "country_code"]]
    out = customers.merge(cohort.rename("cohort_month"), left_on="customer_id", right_index=True, how="left")
    return out.reset_index(drop=True)
