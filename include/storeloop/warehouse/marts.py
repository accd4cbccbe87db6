"""Reads of the dbt marts: the recommender's and the monitor's inputs (docs/contracts.md, 'dbt outputs')."""

from __future__ import annotations

import pandas as pd

from storeloop.warehouse.db import Connection, connection, copy_query_to_frame

ORDER_LINES_QUERY = """
select order_line_id, order_id, customer_id, product_id, quantity, unit_price, line_revenue, ordered_at
from marts.fct_order_lines
where is_cancelled is not true
order by ordered_at, order_line_id
"""

PRODUCTS_QUERY = """
select product_id, handle, title, product_type, vendor, status, price, created_at
from marts.dim_products
order by product_id
"""

_ID_COLUMNS = {"order_line_id": "string", "order_id": "string", "customer_id": "string", "product_id": "string"}


def load_order_lines(conn: Connection | str) -> pd.DataFrame:
    """Non-cancelled lines of `marts.fct_order_lines`; `ordered_at` as tz-aware UTC, money as float.

    Lines without a customer (guest checkouts) or product (custom items) are kept; the models drop them.
    """
    with connection(conn) as c:
        df = copy_query_to_frame(c, ORDER_LINES_QUERY, dtype=_ID_COLUMNS)
    df["ordered_at"] = pd.to_datetime(df["ordered_at"], utc=True, format="ISO8601")
    df[["unit_price", "line_revenue"]] = df[["unit_price", "line_revenue"]].astype("float64")
    return ids_as_object(df)


def load_products(conn: Connection | str) -> pd.DataFrame:
    """All rows of `marts.dim_products` (product_id, handle, title, product_type, vendor, status, price, created_at)."""
    with connection(conn) as c:
        df = copy_query_to_frame(
            c, PRODUCTS_QUERY, dtype={"product_id": "string", "product_type": "string", "vendor": "string"}
        )
    df["created_at"] = pd.to_datetime(df["created_at"], utc=True, format="ISO8601")
    df["price"] = df["price"].astype("float64")
    return ids_as_object(df)


ELIGIBILITY_QUERY = """
select product_id, handle, title, product_type, vendor, is_eligible, ineligible_reason, is_deleted
from marts.dim_products
order by product_id
"""


def load_product_eligibility(conn: Connection | str) -> pd.DataFrame:
    """Every product of `marts.dim_products` with what scoring and publishing need: `product_id, handle, title,
    product_type, vendor, is_eligible, ineligible_reason, is_deleted` (the rule: docs/features.md, dim_products)."""
    with connection(conn) as c:
        df = copy_query_to_frame(c, ELIGIBILITY_QUERY, dtype={"product_id": "string", "handle": "string",
                                                              "title": "string", "product_type": "string", "vendor": "string",
                                                              "ineligible_reason": "string"},
                                  true_values=["t"], false_values=["f"])
    df[["is_eligible", "is_deleted"]] = df[["is_eligible", "is_deleted"]].astype(bool)
    return ids_as_object(df)


def ids_as_object(df: pd.DataFrame) -> pd.DataFrame:
    """String columns (ids read as pandas "string") as Python objects, nulls as None: what the recommenders take."""
    for col in df.columns:
        if isinstance(df[col].dtype, pd.StringDtype):
            df[col] = df[col].astype(object).where(df[col].notna(), None)
    return df


CUSTOMERS_TABLE = "marts.dim_customers"
CUSTOMERS_QUERY = f"select customer_id, country_code, cohort_month from {CUSTOMERS_TABLE} order by customer_id"


def load_customers(conn: Connection | str) -> pd.DataFrame | None:
    """`marts.dim_customers` (customer_id, country_code, cohort_month), or None while the mart does not exist yet
    (the recommender then segments by the cohort computed from the order lines and an 'unknown' country)."""
    with connection(conn) as c:
        with c.cursor() as cur:
            cur.execute("select to_regclass(%s)", (CUSTOMERS_TABLE,))
            exists = cur.fetchone()[0] is not None
        if not exists:
            return None
        df = copy_query_to_frame(c, CUSTOMERS_QUERY, dtype={"customer_id": "string", "country_code": "string"})
    df["cohort_month"] = pd.to_datetime(df["cohort_month"], format="ISO8601")
    return ids_as_object(df)


BUILDS_TABLE = "marts._dbt_model_builds"


def load_model_builds(conn: Connection | str, models: tuple[str, ...] = ("fct_order_lines", "dim_customers")) -> dict:
    """{model: {invocation_id, built_at, airflow_run_id}} of the dbt builds that produced the tables read, from the
    build log the dbt project keeps (macros/record_model_builds.sql); {} while no build has written it."""
    with connection(conn) as c, c.cursor() as cur:
        cur.execute("select to_regclass(%s)", (BUILDS_TABLE,))
        if cur.fetchone()[0] is None:
            return {}
        cur.execute(f"select model, invocation_id, built_at, airflow_run_id from {BUILDS_TABLE} "
                    "where model = any(%s)", (list(models),))
        return {
            model: {"invocation_id": inv, "built_at": built.isoformat(), "airflow_run_id": run or "none"}
            for model, inv, built, run in cur.fetchall()
        }


ORDER_LINE_ACCOUNTING_QUERY = """
select product_resolution, customer_id is null as anonymous, count(*)
from marts.fct_order_lines
group by 1, 2
"""


def order_line_accounting(conn: Connection | str) -> dict:
    """What `fct_order_lines` holds, for the features run's summary: its line count, how each line's product was
    found (`product_resolution`: docs/features.md, "API and CSV exports: one store"), and how many lines have no
    customer (guest checkouts, or an orders export without Email: they feed related products (co-purchase), not
    personal recommendations)."""
    with connection(conn) as c, c.cursor() as cur:
        cur.execute(ORDER_LINE_ACCOUNTING_QUERY)
        rows = cur.fetchall()
    resolution: dict[str, int] = {}
    for how, _, n in rows:
        resolution[how or "none"] = resolution.get(how or "none", 0) + n
    return {"order_lines": sum(n for *_, n in rows), "product_resolution": dict(sorted(resolution.items())),
            "anonymous_order_lines": sum(n for _, anonymous, n in rows if anonymous)}
