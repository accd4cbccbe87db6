"""Issue #4: incremental, idempotent ingestion through the real task code, real HTTP to the emulator and real Postgres.

The watermark only moves when a load commits; a rerun of the same run asks for the same window and replaces its own
rows; an incremental pull plus what was already loaded equals a full refresh, record for record."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import psycopg2
import pytest
import requests

from sandbox.shopify_emulator import start_emulator, stop_emulator
from storeloop.orchestration import ingest
from storeloop.warehouse import ingest_state

pytestmark = pytest.mark.integration

TOKEN = "shpat_incremental"
END = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def stack(tmp_path, warehouse_db, monkeypatch):
    server, _thread, base_url = start_emulator(tmp_path / "emulator", TOKEN, seed=11, size="XS", end=END)
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", warehouse_db)
    monkeypatch.setenv("AIRFLOW_CONN_SHOPIFY", json.dumps(
        {"conn_type": "shopify", "host": base_url, "password": TOKEN, "extra": {"api_version": "2025-01"}}))
    monkeypatch.setenv("STORELOOP_LANDING_URL", (tmp_path / "landing").as_uri())
    monkeypatch.setenv("STORELOOP_INGEST_OVERLAP_MINUTES", "30")
    yield base_url, warehouse_db, tmp_path / "landing"
    stop_emulator(server)


def _pull(run_id: str, **kw) -> dict[str, dict]:
    return {r: ingest.extract_and_load(r, run_id, **kw) for r in ingest.RESOURCES}


def _stats(base_url: str) -> dict:
    return requests.get(f"{base_url}/_sandbox/stats", timeout=10).json()


def _query(db: str, sql: str, args=()) -> list[tuple]:
    with psycopg2.connect(db) as conn, conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def _counts(db: str) -> dict[str, int]:
    tables = ("products", "product_variants", "customers", "orders", "order_line_items")
    return {t: _query(db, f"select count(*) from raw_shopify.{t}")[0][0] for t in tables}


def _latest(db: str, table: str, run_id: str | None = None) -> dict[str, str]:
    """id → the latest version's record (what staging keeps), over every run or one run."""
    where = "where _run_id = %s" if run_id else ""
    newest = "updated_at desc nulls last, " if table != "order_line_items" else ""
    rows = _query(db, f"select distinct on (id) id, _record::text from raw_shopify.{table} {where} "
                      f"order by id, {newest}_loaded_at desc", (run_id,) if run_id else ())
    return dict(rows)


def _watermark(db: str, resource: str):
    with psycopg2.connect(db) as conn, conn.cursor() as cur:
        return ingest_state.watermark(cur, resource)


def test_first_pull_is_full_and_a_rerun_replaces_it(stack):
    base_url, db, landing = stack
    first = _pull("scheduled__1")
    stats = _stats(base_url)
    assert {r["window"]["mode"] for r in first.values()} == {"full"}
    counts = _counts(db)
    assert counts["orders"] == stats["orders"] and counts["order_line_items"] == stats["line_items"]
    assert counts["customers"] == stats["customers"] and counts["products"] == stats["products"]
    assert (landing / "shopify" / "orders" / "run=scheduled__1" / "orders.jsonl").exists()
    mark = _watermark(db, "orders")
    assert mark is not None and mark.isoformat() == first["orders"]["max_updated_at"]

    again = _pull("scheduled__1")
    assert {r["window"]["mode"] for r in again.values()} == {"full"}, "a rerun asks for the same window"
    assert _counts(db) == counts, "a rerun of the same run must neither lose nor duplicate rows"
    assert _watermark(db, "orders") == mark


def test_incremental_pull_plus_history_equals_a_full_refresh(stack):
    base_url, db, _ = stack
    _pull("scheduled__1")
    mark_before = _watermark(db, "orders")
    requests.post(f"{base_url}/_sandbox/advance", json={"days": 3}, timeout=60).raise_for_status()
    stats = _stats(base_url)

    second = _pull("scheduled__2")
    assert {r["window"]["mode"] for r in second.values()} == {"incremental"}
    assert second["orders"]["window"]["updated_from"] < mark_before.isoformat().replace("+00:00", "Z")
    assert second["orders"]["lines_in"] < stats["orders"] + stats["line_items"], "it re-pulled everything"
    assert second["orders"]["rows_loaded"]["orders"] > 0, "the advanced days brought new orders"
    assert _watermark(db, "orders") > mark_before

    counts_after_second = _counts(db)
    assert _pull("scheduled__2") and _counts(db) == counts_after_second, "rerun of an incremental run is idempotent"

    full = _pull("manual__full", full_refresh=True)
    assert {r["window"]["mode"] for r in full.values()} == {"full"}
    for table in ("orders", "order_line_items", "customers", "products", "product_variants"):
        assert _latest(db, table) == _latest(db, table, "manual__full"), f"{table}: incremental history differs"
    assert len(_latest(db, "orders")) == stats["orders"]


def test_a_crash_mid_load_moves_no_watermark_and_the_rerun_loses_nothing(stack, monkeypatch):
    base_url, db, _ = stack
    _pull("scheduled__1")
    requests.post(f"{base_url}/_sandbox/advance", json={"days": 2}, timeout=60).raise_for_status()
    mark = _watermark(db, "orders")
    counts = _counts(db)

    from storeloop.warehouse import raw_loader

    real_record = raw_loader.ingest_state.record_batch

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed after COPY, before commit")

    monkeypatch.setattr(raw_loader.ingest_state, "record_batch", crash)
    with pytest.raises(KeyboardInterrupt):
        ingest.extract_and_load("orders", "scheduled__2")
    assert _counts(db) == counts, "a crashed load left rows behind"
    assert _watermark(db, "orders") == mark, "the watermark moved without a commit"

    monkeypatch.setattr(raw_loader.ingest_state, "record_batch", real_record)
    report = ingest.extract_and_load("orders", "scheduled__2")
    assert report["window"]["mode"] == "incremental"
    assert len(_latest(db, "orders")) == _stats(base_url)["orders"]


def test_backfill_window_pulls_only_that_window_and_keeps_the_watermark(stack):
    base_url, db, _ = stack
    _pull("scheduled__1")
    mark = _watermark(db, "orders")
    report = ingest.extract_and_load("orders", "backfill__feb", updated_from="2026-02-01", updated_to="2026-02-08")
    assert report["window"] == {"mode": "backfill", "updated_from": "2026-02-01T00:00:00Z",
                                "updated_to": "2026-02-08T00:00:00Z", "reason": "explicit updated_at window"}
    updated = _query(db, "select min(updated_at), max(updated_at), count(*) from raw_shopify.orders "
                         "where _run_id = 'backfill__feb'")[0]
    assert updated[2] > 0
    assert updated[0] >= datetime(2026, 2, 1, tzinfo=UTC) and updated[1] < datetime(2026, 2, 8, tzinfo=UTC)
    assert _watermark(db, "orders") == mark, "a backfill must not move the watermark"


def test_requested_bounds_for_backfill_runs_and_params():
    start, end = datetime(2026, 1, 1, 2, tzinfo=UTC), datetime(2026, 1, 2, 2, tzinfo=UTC)
    assert ingest.requested_bounds({}, run_type="scheduled", interval_start=start, interval_end=end) == (None, None)
    assert ingest.requested_bounds({}, run_type="backfill", interval_start=start, interval_end=end) == (start, end)
    got = ingest.requested_bounds({"updated_from": "2026-01-05"}, run_type="manual")
    assert got == (datetime(2026, 1, 5, tzinfo=UTC), None)
    with pytest.raises(ValueError, match="updated_to='yesterday' is not an ISO 8601"):
        ingest.requested_bounds({"updated_to": "yesterday"}, run_type="manual")
    with pytest.raises(ValueError, match="empty ingest window"):
        ingest_state.IngestWindow("backfill", end, start)
