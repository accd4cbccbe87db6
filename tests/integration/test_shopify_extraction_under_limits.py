"""Issue #3's promise: a full extraction of an M store (1,000 products, 10,000 customers, 100,000 orders) through the
emulator under a 100-point bucket restoring 50 points/s fails no request; with 10% injected 5xx and one failed bulk
operation it still returns exactly the same rows."""

from __future__ import annotations

import hashlib
import json

import pytest
import requests

from sandbox.shopify_emulator import start_emulator, stop_emulator
from sandbox.testing import CountingSession
from storeloop.shopify.bulk import run_bulk_query
from storeloop.shopify.bulk_jsonl import parse_line
from storeloop.shopify.client import ShopifyClient
from storeloop.shopify.config import ShopifyConfig
from storeloop.shopify.documents import load_document
from storeloop.shopify.records import RESOURCE_TABLES

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

TOKEN = "shpat_limits"


@pytest.fixture(scope="module")
def m_store(tmp_path_factory):
    server, _thread, base_url = start_emulator(tmp_path_factory.mktemp("m-store"), TOKEN, seed=3, size="M",
                                               port=0, bucket_size=100, restore_rate=50)
    yield base_url
    stop_emulator(server)


def _extract(base_url: str, out_dir) -> tuple[dict[str, str], CountingSession, dict[str, int]]:
    """Every resource, bulk-queried and parsed into typed rows; returns a digest of the rows per table."""
    session = CountingSession()
    client = ShopifyClient(ShopifyConfig(base_url, TOKEN), session=session, backoff_s=0.05)
    digests, counts = {}, {}
    for resource in ("products", "customers", "orders"):
        path = out_dir / f"{resource}.jsonl"
        run_bulk_query(client, load_document(f"bulk_{resource}"), path, poll_s=0.2)
        rows: dict[str, list[str]] = {t: [] for t in RESOURCE_TABLES[resource]}
        with open(path) as fh:
            for line in fh:
                if line.strip():
                    table, row, _record = parse_line(line, RESOURCE_TABLES[resource])
                    rows[table].append(json.dumps(row, default=str))
        for table, lines in rows.items():
            counts[table] = len(lines)
            digests[table] = hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()
    return digests, session, counts


def test_m_store_extraction_under_limits_and_faults(m_store, tmp_path):
    stats = requests.get(f"{m_store}/_sandbox/stats", timeout=10).json()
    clean_dir, faulty_dir = tmp_path / "clean", tmp_path / "faulty"
    clean_dir.mkdir(), faulty_dir.mkdir()

    clean, session, counts = _extract(m_store, clean_dir)
    assert set(session.statuses) == {200}, f"failed requests under the 100/50 budget: {session.statuses}"
    assert counts["orders"] == stats["orders"] and counts["order_line_items"] == stats["line_items"]
    assert counts["customers"] == stats["customers"] and counts["products"] == stats["products"]

    requests.post(f"{m_store}/_sandbox/faults", json={"error_rate": 0.1, "fail_next_bulk": 1, "seed": 11},
                  timeout=10).raise_for_status()
    try:
        faulty, session, _ = _extract(m_store, faulty_dir)
        faults = requests.get(f"{m_store}/_sandbox/stats", timeout=10).json()
    finally:
        requests.delete(f"{m_store}/_sandbox/faults", timeout=10)
    assert sum(n for status, n in session.statuses.items() if status >= 500) > 0, "no 5xx was injected"
    assert faults.get("errors_injected", 0) > 0
    assert faulty == clean
