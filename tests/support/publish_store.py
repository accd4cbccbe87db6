"""A store to publish to, for the scoring and publishing tests: the Shopify emulator's own products and customers,
the marts the score task reads (fct_order_lines, dim_customers, dim_products with eligibility) built over them with a
synthetic purchase history, and models registered in a file-backed MLflow.

The marts are written by hand here (the dbt side of them is tested in tests/integration/test_dbt_*): the tests that
use this builder are about what scoring and publishing do with them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import psycopg2
import requests

from storeloop.publish.metafields import NAMESPACE
from storeloop.recsys.models import Recommender, RelatedProductsModel
from storeloop.recsys.pyfunc import log_recommender
from storeloop.shopify.client import ShopifyClient

PRODUCTS_QUERY = "query P($first: Int!) { products(first: $first) { nodes { id handle productType vendor } } }"
CUSTOMERS_QUERY = "query C($first: Int!) { customers(first: $first) { nodes { id } } }"

MARTS_DDL = """
create schema if not exists marts;
create table marts.fct_order_lines (order_line_id text, order_id text, customer_id text, product_id text,
    quantity integer, unit_price numeric, line_revenue numeric, ordered_at timestamptz, is_cancelled boolean);
create table marts.dim_customers (customer_id text, country_code text, cohort_month date);
create table marts.dim_products (product_id text, handle text, title text, product_type text, vendor text, is_eligible boolean,
    ineligible_reason text, is_deleted boolean);
"""


@dataclass
class PublishStore:
    base_url: str
    db: str
    products: pd.DataFrame  # product_id, handle, product_type, vendor
    customers: list[str]
    lines: pd.DataFrame


def shop_catalogue(client: ShopifyClient) -> tuple[pd.DataFrame, list[str]]:
    nodes = client.execute(PRODUCTS_QUERY, {"first": 250})["products"]["nodes"]
    products = pd.DataFrame({"product_id": [n["id"] for n in nodes], "handle": [n["handle"] for n in nodes],
                             "product_type": [n["productType"] or None for n in nodes],
                             "vendor": [n["vendor"] or None for n in nodes]})
    customers = [n["id"] for n in client.execute(CUSTOMERS_QUERY, {"first": 250})["customers"]["nodes"]]
    return products, customers


def synthetic_lines(products: list[str], customers: list[str], seed: int = 0, with_history: float = 0.8) -> pd.DataFrame:
    """Orders of `with_history` of the customers: each customer favours a few products (so models disagree)."""
    rng = np.random.default_rng(seed)
    rows = []
    start = pd.Timestamp("2026-06-01", tz="UTC")
    buyers = customers[: int(len(customers) * with_history)]
    weights = 1.0 / np.arange(1, len(products) + 1)
    weights /= weights.sum()
    for c, customer in enumerate(buyers):
        favourites = rng.choice(len(products), size=4, replace=False, p=weights)
        for o in range(int(rng.integers(1, 6))):
            when = start + pd.Timedelta(days=int(rng.integers(0, 150)), hours=int(rng.integers(0, 24)))
            basket = set(rng.choice(favourites, size=int(rng.integers(1, 3))).tolist())
            basket |= set(rng.choice(len(products), size=1, p=weights).tolist())
            for i, p in enumerate(sorted(basket)):
                rows.append((f"{c}-{o}-{i}", f"{c}-{o}", customer, products[p], 1, 10.0, 10.0, when, False))
    return pd.DataFrame(rows, columns=["order_line_id", "order_id", "customer_id", "product_id", "quantity",
                                       "unit_price", "line_revenue", "ordered_at", "is_cancelled"])


def write_marts(db: str, products: pd.DataFrame, customers: list[str], lines: pd.DataFrame,
                ineligible: dict[str, str] | None = None) -> None:
    ineligible = ineligible or {}
    with psycopg2.connect(db) as conn, conn.cursor() as cur:
        cur.execute("drop schema if exists marts cascade")
        cur.execute(MARTS_DDL)
        cur.executemany("insert into marts.fct_order_lines values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                        [tuple(r) for r in lines.itertuples(index=False)])
        cur.executemany("insert into marts.dim_customers values (%s, 'US', '2026-06-01')", [(c,) for c in customers])
        cur.executemany("insert into marts.dim_products values (%s, %s, %s, %s, %s, %s, %s, %s)", [
            (r.product_id, r.handle, r.handle.replace("-", " ").title(), r.product_type, r.vendor, r.product_id not in ineligible,
             ineligible.get(r.product_id), ineligible.get(r.product_id) == "deleted")
            for r in products.itertuples(index=False)])


def register(model: Recommender, lines: pd.DataFrame, name: str, *, champion: bool = True,
             for_you: bool = False) -> int:
    """Log `model` (fitted on `lines`) with the related-products table of `lines`, register it, optionally alias it
    champion and/or for_you; returns its version. Artifacts go beside the MLflow database (tests' `mlflow_workspace`), never into
    the working directory."""
    related = RelatedProductsModel().fit(lines).related_products(30)
    uri = mlflow.get_tracking_uri()
    experiment = mlflow.get_experiment_by_name("publish_tests")
    if experiment is None:
        root = Path(uri.removeprefix("sqlite:///")).parent
        experiment_id = mlflow.create_experiment("publish_tests", artifact_location=(root / "artifacts").as_uri())
    else:
        experiment_id = experiment.experiment_id
    with mlflow.start_run(experiment_id=experiment_id):
        info = log_recommender(model.fit(lines), input_example=lines.head(20), related=related)
    version = int(mlflow.register_model(info.model_uri, name).version)
    for alias, wanted in (("champion", champion), ("for_you", for_you)):
        if wanted:
            mlflow.MlflowClient().set_registered_model_alias(name, alias, str(version))
    return version


def store_lists(base_url: str, key: str | None = None) -> dict[tuple[str, str], list[str]]:
    """(owner, key) → the list the emulator holds, for every storeloop metafield."""
    found = requests.get(f"{base_url}/_sandbox/metafields", timeout=30).json()
    return {(m["owner_id"], m["key"]): json.loads(m["value"])
            for m in found if m["namespace"] == NAMESPACE and (key is None or m["key"] == key)}


def published_state(db: str) -> dict[tuple[str, str], tuple[str, int]]:
    with psycopg2.connect(db) as conn, conn.cursor() as cur:
        cur.execute("select owner_gid, key, value_digest, model_version from ml.published_lists")
        return {(o, k): (d, v) for o, k, d, v in cur.fetchall()}


def query(db: str, sql: str, args: tuple = ()) -> list[tuple]:
    with psycopg2.connect(db) as conn, conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()
