"""Deleted products through the real ingest task code, real HTTP to the emulator and real PostgreSQL: a FULL pull of
products records the products an earlier load had and Shopify no longer returns (raw_shopify.product_deletions, in
the load's transaction, replaced by a rerun); an incremental pull records nothing. Also the eligibility columns the
products bulk query brings (migration 0005), and the loader's guards (a quarantined product is not "deleted"; a pull
that cannot tell records nothing)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import psycopg2
import pytest
import requests
from support.shopify_admin import delete_product, set_product, shopify_connection

from sandbox.shopify_emulator import start_emulator, stop_emulator
from storeloop.orchestration import ingest
from storeloop.warehouse.ingest_state import IngestWindow
from storeloop.warehouse.raw_loader import load_bulk_jsonl

pytestmark = pytest.mark.integration

TOKEN = "shpat_deletions"
END = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def stack(tmp_path, warehouse_db, monkeypatch):
    server, _thread, base_url = start_emulator(tmp_path / "emulator", TOKEN, seed=12, size="XS", end=END)
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", warehouse_db)
    monkeypatch.setenv("AIRFLOW_CONN_SHOPIFY", shopify_connection(base_url, TOKEN))
    monkeypatch.setenv("STORELOOP_LANDING_URL", (tmp_path / "landing").as_uri())
    yield base_url, warehouse_db
    stop_emulator(server)


def _query(db: str, sql: str, args=()) -> list[tuple]:
    with psycopg2.connect(db) as conn, conn.cursor() as cur:
        cur.execute(sql, args)
        rows = cur.fetchall()
    conn.close()
    return rows


def _deletions(db: str) -> list[tuple]:
    return _query(db, "select _run_id, id, last_run_id from raw_shopify.product_deletions order by _run_id, id")


def _product_ids(base_url: str) -> list[str]:
    body = {"query": "{ products(first: 50) { nodes { id } } }"}
    r = requests.post(f"{base_url}/admin/api/2025-01/graphql.json", json=body,
                      headers={"X-Shopify-Access-Token": TOKEN}, timeout=10)
    return [p["id"] for p in r.json()["data"]["products"]["nodes"]]


def test_a_full_pull_records_deleted_products_an_incremental_one_does_not_and_reruns_replace(stack):
    base_url, db = stack
    gone, also_gone, gift_card, *_ = _product_ids(base_url)
    set_product(base_url, gift_card, isGiftCard=True, publishedAt=None, inventoryQuantity=0, inventoryPolicy="DENY")

    first = ingest.extract_and_load("products", "scheduled__1")
    assert first["window"]["mode"] == "full" and first["products_deleted"] == 0, "nothing was loaded before"
    # the eligibility columns arrive typed (migration 0005)
    assert _query(db, "select is_gift_card, is_published, published_at, tracks_inventory, total_inventory "
                      "from raw_shopify.products where id = %s", (gift_card,)) == [(True, False, None, True, 0)]
    assert _query(db, "select distinct inventory_quantity, inventory_policy, inventory_tracked, available_for_sale "
                      "from raw_shopify.product_variants where product_id = %s", (gift_card,)) == [
        (0, "DENY", True, False)]
    assert _query(db, "select count(*) from raw_shopify.products where is_published is null or is_gift_card is null "
                      "or tracks_inventory is null") == [(0,)]

    assert delete_product(base_url, gone).status_code == 200
    incremental = ingest.extract_and_load("products", "scheduled__2")
    assert incremental["window"]["mode"] == "incremental"
    assert "products_deleted" not in incremental, "an incremental pull cannot see deletions"
    assert _deletions(db) == []

    full = ingest.extract_and_load("products", "manual__full", full_refresh=True)
    assert full["window"]["mode"] == "full" and full["products_deleted"] == 1
    assert _deletions(db) == [("manual__full", gone, "scheduled__1")]
    [(detected_at, loaded_at)] = _query(db, "select d.detected_at, max(p._loaded_at) from "
                                            "raw_shopify.product_deletions d join raw_shopify.products p "
                                            "on p._run_id = d._run_id group by 1")
    assert detected_at == loaded_at, "recorded in the load's own transaction"

    again = ingest.extract_and_load("products", "manual__full", full_refresh=True)
    assert again["products_deleted"] == 1
    assert _deletions(db) == [("manual__full", gone, "scheduled__1")], "a rerun replaces its rows"

    # a later full pull records every product missing now, the earlier deletion included; the incremental run still
    # has none
    assert delete_product(base_url, also_gone).status_code == 200
    later = ingest.extract_and_load("products", "manual__full_2", full_refresh=True)
    assert later["products_deleted"] == 2
    assert _deletions(db) == sorted([("manual__full", gone, "scheduled__1"),
                                     ("manual__full_2", also_gone, "manual__full"),
                                     ("manual__full_2", gone, "scheduled__1")])
    summary = ingest.summarize([later])
    assert summary["products_deleted"] == 2 and "products_deleted" not in ingest.summarize([incremental])


def _product(n: int, **extra) -> str:
    return json.dumps({"id": f"gid://shopify/Product/{n}", "handle": f"p{n}", "title": f"P{n}", "status": "ACTIVE",
                       "updatedAt": "2026-01-01T00:00:00Z", **extra})


def _load(db: str, run_id: str, lines: list[str], mode: str = "full"):
    conn = psycopg2.connect(db)
    try:
        return load_bulk_jsonl(conn, None, resource="products", run_id=run_id, source_name=f"{run_id}.jsonl",
                               lines=lines, window=IngestWindow(mode))
    finally:
        conn.close()


def test_a_quarantined_product_is_not_deleted_and_a_pull_that_cannot_tell_records_nothing(warehouse_db):
    db = warehouse_db
    assert _load(db, "run_1", [_product(1), _product(2), _product(3)]).products_deleted == 0
    # product 2's line is malformed this time: Shopify returned it, so it is not deleted; product 3 is
    report = _load(db, "run_2", [_product(1), _product(2, updatedAt="yesterday")])
    assert report.rows_quarantined == 1 and report.products_deleted == 1
    assert _deletions(db) == [("run_2", "gid://shopify/Product/3", "run_1")]
    # a line whose product cannot be told: this pull tells nothing (and a rerun of run_2 that cannot tell either
    # replaces what run_2 recorded)
    assert _load(db, "run_3", [_product(1), "{not json"]).products_deleted is None
    assert _load(db, "run_2", [_product(1), "{not json"]).products_deleted is None
    # a full pull that returned no product at all is taken for a broken pull, not an empty shop
    assert _load(db, "run_4", []).products_deleted is None
    # incremental and backfill pulls never tell
    assert _load(db, "run_5", [_product(1)], mode="incremental").products_deleted is None
    assert _load(db, "run_6", [_product(1)], mode="backfill").products_deleted is None
    assert _deletions(db) == []
