"""The Shopify client against the real emulator over HTTP: paced bulk extraction under a tight cost budget, metafield
writes by metafieldsSet batches and by bulk mutation, and recovery from injected faults."""

from __future__ import annotations

import hashlib
import json

import pytest
import requests

from sandbox.shopify_emulator import start_emulator, stop_emulator
from sandbox.testing import CountingSession
from storeloop.shopify.bulk import iter_bulk_records, run_bulk_query
from storeloop.shopify.bulk_mutation import write_metafields
from storeloop.shopify.client import ShopifyClient
from storeloop.shopify.config import ShopifyConfig
from storeloop.shopify.documents import load_document

pytestmark = pytest.mark.integration

TOKEN = "shpat_client_tests"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    server, _thread, base_url = start_emulator(tmp_path_factory.mktemp("xs-store"), TOKEN, seed=42, size="XS",
                                               port=0, bucket_size=100, restore_rate=50)
    yield base_url
    stop_emulator(server)


def _client(base_url, session=None):
    return ShopifyClient(ShopifyConfig(base_url, TOKEN), session=session or CountingSession(), backoff_s=0.05)


def _extract(base_url, out_dir, session):
    client = _client(base_url, session)
    digests, counts = {}, {}
    for resource in ("products", "customers", "orders"):
        path = out_dir / f"{resource}.jsonl"
        result = run_bulk_query(client, load_document(f"bulk_{resource}"), path, poll_s=0.05)
        lines = sorted(json.dumps([rec, parent], sort_keys=True) for rec, parent in iter_bulk_records(path))
        counts[resource] = result.object_count
        digests[resource] = hashlib.sha256("\n".join(lines).encode()).hexdigest()
        for rec, _parent in iter_bulk_records(path):
            kind = rec["id"].split("/")[3]
            counts[kind] = counts.get(kind, 0) + 1
    return digests, counts, client


def test_bulk_extraction_under_a_100_50_budget_fails_no_request(emulator, tmp_path):
    stats_before = requests.get(f"{emulator}/_sandbox/stats", timeout=5).json()
    session = CountingSession()
    _digests, counts, client = _extract(emulator, tmp_path, session)
    assert set(session.statuses) == {200}, session.statuses
    stats = requests.get(f"{emulator}/_sandbox/stats", timeout=5).json()
    assert stats.get("throttled", 0) == stats_before.get("throttled", 0), "a request was THROTTLED despite pacing"
    assert counts["Product"] == stats["products"] and counts["ProductVariant"] == stats["variants"]
    assert counts["Customer"] == stats["customers"]
    assert counts["Order"] == stats["orders"] and counts["LineItem"] == stats["line_items"]


def test_pacing_keeps_a_burst_of_queries_unthrottled(emulator):
    stats_before = requests.get(f"{emulator}/_sandbox/stats", timeout=5).json()
    session = CountingSession()
    client = _client(emulator, session)
    q = "{ products(first: 40) { edges { node { id title } } } }"
    for _ in range(12):  # ~40 points each: 12 of them need far more than the 100-point bucket: pacing must space them
        client.execute(q)
    stats = requests.get(f"{emulator}/_sandbox/stats", timeout=5).json()
    assert set(session.statuses) == {200}
    assert stats.get("throttled", 0) == stats_before.get("throttled", 0)
    assert client.paced_s > 0


def _product_ids(base_url, n):
    client = _client(base_url)
    data = client.execute("query($n: Int!) { products(first: $n) { edges { node { id } } } }", {"n": n})
    return [e["node"]["id"] for e in data["products"]["edges"]]


def _inputs(product_ids, keys, namespace, value=lambda i: str(i)):
    out = []
    for k in range(keys):
        for p in product_ids:
            out.append({"ownerId": p, "namespace": namespace, "key": f"score_{k}", "type": "number_integer",
                        "value": value(len(out))})
    return out


def _written(base_url, namespace):
    got = requests.get(f"{base_url}/_sandbox/metafields", timeout=10).json()
    rows = got if isinstance(got, list) else got.get("metafields", [])
    return {(m.get("ownerId") or m.get("owner_id"), m["key"]): m["value"] for m in rows
            if m.get("namespace") == namespace}


def test_metafields_set_batches_for_a_few_hundred(emulator):
    products = _product_ids(emulator, 40)
    inputs = _inputs(products, 8, "storeloop_batch")  # 320 distinct (owner, namespace, key)
    session = CountingSession()
    client = _client(emulator, session)
    throttled_before = requests.get(f"{emulator}/_sandbox/stats", timeout=5).json().get("throttled", 0)
    report = write_metafields(client, inputs, bulk_threshold=1000)
    throttled = requests.get(f"{emulator}/_sandbox/stats", timeout=5).json().get("throttled", 0) - throttled_before
    report.raise_for_errors()
    # ceil(320 / 25) = 13 calls; a fresh client knows nothing of the bucket, so its very first call may be THROTTLED
    assert report.method == "metafieldsSet" and report.requests - throttled == 13 and throttled <= 1
    assert report.metafields_written == 320
    assert set(session.statuses) == {200}
    written = _written(emulator, "storeloop_batch")
    assert len(written) == 320 and written[(products[0], "score_0")] == "0"


def test_metafields_set_user_errors_are_reported_not_dropped(emulator):
    products = _product_ids(emulator, 3)
    inputs = _inputs(products, 1, "storeloop_bad")
    inputs[1]["value"] = "not a number"
    report = write_metafields(_client(emulator), inputs)
    assert [e.input_index for e in report.user_errors] == [1]
    with pytest.raises(Exception, match="input 1"):
        report.raise_for_errors()


def test_bulk_mutation_writes_metafields(emulator, tmp_path):
    products = _product_ids(emulator, 40)
    inputs = _inputs(products, 10, "storeloop_bulk")  # 400
    inputs[123]["value"] = "x"
    session = CountingSession()
    client = _client(emulator, session)
    report = write_metafields(client, inputs, bulk_threshold=100, tmp_dir=tmp_path, bulk_kw={"poll_s": 0.05})
    assert report.method == "bulk"
    assert report.bulk.lines_sent == 16 and report.bulk.lines_returned == 16
    assert report.bulk.lines_with_user_errors == 1
    assert [e.input_index for e in report.user_errors] == [123]
    assert report.metafields_written == 375  # the line holding input 123 is rejected as a whole
    assert set(session.statuses) == {200}
    assert len(_written(emulator, "storeloop_bulk")) == 375


def test_extraction_is_exact_under_injected_faults(emulator, tmp_path):
    clean_dir, faulty_dir = tmp_path / "clean", tmp_path / "faulty"
    clean_dir.mkdir(), faulty_dir.mkdir()
    clean, _, _ = _extract(emulator, clean_dir, CountingSession())
    requests.post(f"{emulator}/_sandbox/faults", json={"error_rate": 0.1, "fail_next_bulk": 1, "expire_next_bulk": 1,
                                                       "cancel_next_bulk": 1, "seed": 7}, timeout=5).raise_for_status()
    session = CountingSession()
    try:
        faulty, _, _ = _extract(emulator, faulty_dir, session)
        stats = requests.get(f"{emulator}/_sandbox/stats", timeout=5).json()
    finally:
        requests.delete(f"{emulator}/_sandbox/faults", timeout=5)
    assert stats.get("errors_injected", 0) > 0
    assert sum(n for s, n in session.statuses.items() if s >= 500) > 0, "no 5xx was injected"
    assert faulty == clean


def test_bulk_metafield_write_survives_faults(emulator, tmp_path):
    products = _product_ids(emulator, 40)
    inputs = _inputs(products, 5, "storeloop_faulty", value=lambda i: str(i * 7))
    requests.post(f"{emulator}/_sandbox/faults", json={"error_rate": 0.1, "fail_next_bulk": 1, "seed": 3},
                  timeout=5).raise_for_status()
    try:
        report = write_metafields(_client(emulator), inputs, bulk_threshold=50, tmp_dir=tmp_path,
                                  bulk_kw={"poll_s": 0.05})
    finally:
        requests.delete(f"{emulator}/_sandbox/faults", timeout=5)
    report.raise_for_errors()
    assert report.bulk.restarts >= 1
    assert len(_written(emulator, "storeloop_faulty")) == 200
