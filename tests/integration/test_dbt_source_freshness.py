"""`dbt source freshness` on what was really loaded (macros/source_freshness.sql): a source the merchant never feeds is
not checked, but one that was fed and then stopped still warns and then fails, and with the API enabled every table
is checked, where an API pull that found nothing new still counts as fresh. The exports-only subsets through the
DAG's own freshness tasks: tests/dags/test_features_dag_source_freshness.py."""

from __future__ import annotations

import json

import pytest
from support.dbt_warehouse import run_dbt
from support.fixture_files import shopify_export

from storeloop.warehouse.export_loader import load_csv_export

pytestmark = pytest.mark.integration

TABLES = ("products", "product_variants", "customers", "orders", "order_line_items")


def load_orders_export(warehouse, hours_ago: float = 0) -> None:
    """The small store's orders export, as if its batch had committed `hours_ago` hours ago."""
    with warehouse.connect() as conn:
        load_csv_export(conn, shopify_export("orders_export_small_store.csv"), run_id="night_1")
        with conn.cursor() as cur:
            shift = f"now() - interval '{hours_ago} hours'"
            cur.execute(f"update raw_shopify._ingest_batches set committed_at = {shift}")
            cur.execute(f"update raw_shopify.orders set _loaded_at = {shift}")
            cur.execute(f"update raw_shopify.order_line_items set _loaded_at = {shift}")
    conn.close()


def freshness(warehouse, tmp_path, monkeypatch, sources: str) -> dict[str, str]:
    monkeypatch.setenv("STORELOOP_INGEST_SOURCES", sources)
    result = run_dbt(warehouse, tmp_path, "source", "freshness")
    sources_json = tmp_path / "target" / "sources.json"  # what `dbt source freshness` writes
    assert sources_json.exists(), result.stdout[-3000:] + result.stderr[-2000:]
    results = {r["unique_id"]: r["status"] for r in json.loads(sources_json.read_text())["results"]}
    return {t: results[f"source.storeloop.shopify.{t}"] for t in TABLES}


def test_an_exports_source_that_stopped_warns_then_fails_and_the_never_fed_ones_pass(warehouse, tmp_path,
                                                                                    monkeypatch):
    load_orders_export(warehouse, hours_ago=48)
    assert freshness(warehouse, tmp_path, monkeypatch, "exports") == {
        "products": "pass", "product_variants": "pass", "customers": "pass", "orders": "warn",
        "order_line_items": "warn"}
    load_orders_export(warehouse, hours_ago=96)
    stale = freshness(warehouse, tmp_path, monkeypatch, "exports")
    assert (stale["orders"], stale["order_line_items"], stale["customers"]) == ("error", "error", "pass")


def test_with_the_api_enabled_every_table_is_checked(warehouse, tmp_path, monkeypatch):
    load_orders_export(warehouse)
    assert freshness(warehouse, tmp_path, monkeypatch, "api,exports") == {
        "products": "error", "product_variants": "error", "customers": "error", "orders": "pass",
        "order_line_items": "pass"}


def test_an_api_pull_that_found_nothing_new_counts_as_fresh(warehouse, tmp_path, monkeypatch):
    load_orders_export(warehouse)
    with warehouse.connect() as conn, conn.cursor() as cur:
        for resource in ("products", "customers"):
            cur.execute(
                "insert into raw_shopify._ingest_batches (run_id, resource, source, mode, source_file, lines_in, "
                "rows_loaded, rows_quarantined) values ('night_2', %s, 'api_bulk', 'incremental', 'x.jsonl', 0, "
                "'{}', 0)", (resource,))
    conn.close()
    assert set(freshness(warehouse, tmp_path, monkeypatch, "api").values()) == {"pass"}
