"""The recommender's warehouse inputs: marts.dim_customers is read when present, and its absence is not an error."""

import pandas as pd
import pytest

from storeloop.recsys.protocol import customer_segments
from storeloop.warehouse.marts import load_customers, load_model_builds

pytestmark = pytest.mark.integration


def test_dim_customers_absent_then_present(warehouse_conn):
    assert load_customers(warehouse_conn) is None  # the mart is not built yet: segment by order-line cohorts
    with warehouse_conn, warehouse_conn.cursor() as cur:
        cur.execute("create schema marts")
        cur.execute("create table marts.dim_customers (customer_id text primary key, country_code text, "
                    "cohort_month date)")
        cur.execute("insert into marts.dim_customers values ('gid://shopify/Customer/1', 'DE', '2025-12-01'), "
                    "('gid://shopify/Customer/2', null, '2026-01-01')")
    customers = load_customers(warehouse_conn)
    assert customers["customer_id"].tolist() == ["gid://shopify/Customer/1", "gid://shopify/Customer/2"]
    lines = pd.DataFrame({"customer_id": ["gid://shopify/Customer/1", "gid://shopify/Customer/2"],
                          "product_id": ["p", "q"], "ordered_at": pd.to_datetime(["2026-02-03", "2026-02-04"],
                                                                                 utc=True)})
    segments = customer_segments(lines, customers).set_index("customer_id")
    assert segments.loc["gid://shopify/Customer/1", ["country", "cohort"]].tolist() == ["DE", "2025-12"]
    assert segments.loc["gid://shopify/Customer/2", ["country", "cohort"]].tolist() == ["unknown", "2026-01"]


def test_the_dbt_build_log_is_read_when_present(warehouse_conn):
    assert load_model_builds(warehouse_conn) == {}  # no dbt build yet: nothing to tag
    with warehouse_conn, warehouse_conn.cursor() as cur:
        cur.execute("create schema if not exists marts")
        cur.execute("create table marts._dbt_model_builds (model text primary key, relation text, invocation_id text, "
                    "run_started_at timestamptz, built_at timestamptz, rows_affected bigint, airflow_run_id text)")
        cur.execute("insert into marts._dbt_model_builds values ('fct_order_lines', 'marts.fct_order_lines', 'inv-1', "
                    "'2026-12-01T02:00Z', '2026-12-01T02:05Z', 8, 'asset_triggered__x'), ('dim_products', "
                    "'marts.dim_products', 'inv-2', '2026-12-01T02:00Z', '2026-12-01T02:06Z', 4, null)")
    builds = load_model_builds(warehouse_conn)
    assert set(builds) == {"fct_order_lines"}
    assert builds["fct_order_lines"]["invocation_id"] == "inv-1"
    assert builds["fct_order_lines"]["airflow_run_id"] == "asset_triggered__x"
