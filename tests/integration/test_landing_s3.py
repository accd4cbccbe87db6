"""The landing zone on s3:// (Airflow ObjectStoragePath + the Amazon provider's s3fs) against a local S3-compatible
server (moto's, over real HTTP): API pulls and CSV exports land and load exactly as on file://."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

import psycopg2
import pytest
from support.fixture_files import shopify_export
from support.s3_landing import moto_server, point_landing_at_s3

from sandbox.shopify_emulator import start_emulator, stop_emulator

pytestmark = pytest.mark.integration

TOKEN = "shpat_s3"
BUCKET = "storeloop-landing"


@pytest.fixture(scope="module")
def moto_endpoint():
    """One server for the module: Airflow caches the s3 filesystem per connection id, endpoint included."""
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_landing(moto_endpoint, monkeypatch):
    s3 = point_landing_at_s3(monkeypatch, moto_endpoint, bucket=BUCKET, prefix="shop-a", conn_id="landing_s3")
    yield s3
    for key in _keys(s3):
        s3.delete_object(Bucket=BUCKET, Key=key)


@pytest.fixture
def emulator(tmp_path, warehouse_db, monkeypatch):
    server, _thread, base_url = start_emulator(tmp_path / "emulator", TOKEN, seed=4, size="XS",
                                               end=datetime(2026, 3, 1, tzinfo=UTC))
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", warehouse_db)
    monkeypatch.setenv("AIRFLOW_CONN_SHOPIFY", json.dumps(
        {"conn_type": "shopify", "host": base_url, "password": TOKEN, "extra": {"api_version": "2025-01"}}))
    yield warehouse_db
    stop_emulator(server)


def _keys(s3) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_api_pull_lands_on_s3_then_loads(s3_landing, emulator):
    from storeloop.orchestration import ingest

    report = ingest.extract_and_load("orders", "scheduled__s3")
    key = "shop-a/shopify/orders/run=scheduled__s3/orders.jsonl"
    assert key in _keys(s3_landing)
    body = s3_landing.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
    assert len([ln for ln in body.splitlines() if ln.strip()]) == report["lines_in"], "landed file is not unchanged"
    with psycopg2.connect(emulator) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from raw_shopify.orders where _run_id = 'scheduled__s3'")
        assert cur.fetchone()[0] == report["rows_loaded"]["orders"] > 0


def test_exports_dropped_on_s3_are_ingested_once(s3_landing, emulator, tmp_path):
    from storeloop.orchestration import ingest

    local = tmp_path / "orders_export_1.csv"
    shutil.copy(shopify_export("orders_export_small_store.csv"), local)
    s3_landing.upload_file(str(local), BUCKET, "shop-a/exports/orders_export_1.csv")
    s3_landing.put_object(Bucket=BUCKET, Key="shop-a/exports/notes.txt", Body=b"not an export")

    first = ingest.ingest_exports("manual__csv1")
    assert [r["resource"] for r in first] == ["orders"]
    assert first[0]["lines_in"] == first[0]["rows_loaded"]["order_line_items"] + first[0]["rows_quarantined"]
    assert "shop-a/shopify/exports/run=manual__csv1/orders_export_1.csv" in _keys(s3_landing)
    assert ingest.ingest_exports("manual__csv2") == [], "the same file content is ingested once"
    rerun = ingest.ingest_exports("manual__csv1")  # a rerun of the run that ingested it replaces its batch
    assert rerun[0]["rows_loaded"] == first[0]["rows_loaded"]
    with psycopg2.connect(emulator) as conn, conn.cursor() as cur:
        cur.execute("select count(*), count(distinct _source) from raw_shopify.order_line_items")
        assert cur.fetchone() == (first[0]["rows_loaded"]["order_line_items"], 1)
