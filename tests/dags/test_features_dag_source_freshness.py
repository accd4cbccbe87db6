"""The freshness tasks of the real `shopify_features` DAG (Cosmos' `dbt.shopify_<table>_source` tasks, run by
`airflow dags test`) for an exports-only merchant: every subset of exports passes, because a source the merchant never
feeds is not checked (macros/source_freshness.sql). The rest of the DAG is marked successful without running, so each
case costs one Airflow process and five `dbt source freshness` calls.

The cases where freshness must still fail (a source fed once and then stopped; an API-fed store whose table never
loaded) run against dbt directly in tests/integration/test_dbt_source_freshness.py."""

from __future__ import annotations

import re

import psycopg2
import pytest
from support.airflow_runs import assert_succeeded, dags_test
from support.fixture_files import shopify_export

from storeloop.warehouse.export_loader import load_csv_export

pytestmark = pytest.mark.integration

EXPORTS = {
    "orders": "orders_export_small_store.csv",
    "products": "products_export_2021_format.csv",
    "customers": "customers_export_header.csv",
}
TABLES = ("products", "product_variants", "customers", "orders", "order_line_items")
# every task but the five freshness tasks is marked successful instead of run
NOT_FRESHNESS = r"^(?!dbt\.shopify_[a-z_]+_source$).*"


def run_freshness_tasks(dag_test_env: dict[str, str], warehouse_db: str, sources: str) -> str:
    # Cosmos' profile mapping needs a password in the connection (the local server trusts any)
    with_password = warehouse_db.replace("postgresql://postgres@", "postgresql://postgres:postgres@", 1)
    return dags_test("shopify_features", {**dag_test_env, "AIRFLOW_CONN_WAREHOUSE": with_password,
                                          "STORELOOP_INGEST_SOURCES": sources},
                     "--mark-success-pattern", NOT_FRESHNESS)


def freshness_results(log: str) -> dict[str, str]:
    """{table: PASS | WARN | ERROR STALE | not run}, from the dbt output the freshness tasks wrote to the log."""
    results = {}
    for table in TABLES:
        found = re.findall(rf"\d+ of \d+ (PASS|WARN|ERROR STALE|ERROR) freshness of shopify\.{table} ", log)
        results[table] = found[-1] if found else "not run"
    return results


@pytest.mark.parametrize("kinds", [("orders",), ("orders", "products"), ("orders", "customers"),
                                   ("orders", "products", "customers")], ids="+".join)
def test_every_subset_of_exports_passes_the_freshness_tasks(dag_test_env, warehouse_db, kinds):
    with psycopg2.connect(warehouse_db) as conn:
        for kind in kinds:
            load_csv_export(conn, shopify_export(EXPORTS[kind]), run_id="night_1")
    log = run_freshness_tasks(dag_test_env, warehouse_db, "exports")
    results = freshness_results(log)
    assert set(results.values()) == {"PASS"}, f"{results}\n{log[-4000:]}"
    assert_succeeded("shopify_features", log)
