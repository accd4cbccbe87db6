"""bulk.py: waiting out a running operation, restarts on FAILED/CANCELED/EXPIRED, resume-safe download, readers."""

from __future__ import annotations

import json

import pytest
import requests

from storeloop.shopify import bulk
from storeloop.shopify.bulk import BulkOperationError, iter_bulk_records, run_bulk_query
from storeloop.shopify.errors import ShopifyUserError


class FakeClient:
    """Answers by operation name from per-name scripts."""

    def __init__(self, **scripts):
        self.scripts = {k: list(v) for k, v in scripts.items()}
        self.calls: list[tuple[str, dict]] = []

    def execute(self, query, variables=None):
        name = next(n for n in ("StartBulkQuery", "BulkOperationStatus", "CurrentBulkOperation") if n in query)
        self.calls.append((name, variables))
        return self.scripts[name].pop(0)


def started(gid):
    return {"bulkOperationRunQuery": {"bulkOperation": {"id": gid, "status": "CREATED"}, "userErrors": []}}


IN_PROGRESS = {"bulkOperationRunQuery": {"bulkOperation": None, "userErrors": [
    {"field": None, "code": "OPERATION_IN_PROGRESS",
     "message": "A bulk query operation for this app and shop is already in progress: gid://shopify/BulkOperation/9."}]}}


def node(gid, status, url=None, error_code=None, partial=None, count=0):
    return {"node": {"id": gid, "status": status, "url": url, "errorCode": error_code, "partialDataUrl": partial,
                     "objectCount": str(count)}}


def current(status):
    return {"currentBulkOperation": {"id": "gid://shopify/BulkOperation/9", "type": "QUERY", "status": status}}


@pytest.fixture
def no_download(monkeypatch):
    got = []

    def fake_download(url, dest, **kw):
        got.append(url)
        dest.write_text("")
        return 0

    monkeypatch.setattr(bulk, "download", fake_download)
    return got


def run(client, tmp_path, **kw):
    return run_bulk_query(client, "{ products { edges { node { id } } } }", tmp_path / "out.jsonl",
                          poll_s=0.01, sleep=lambda s: None, **kw)


def test_completed_first_time(tmp_path, no_download):
    client = FakeClient(StartBulkQuery=[started("B1")],
                        BulkOperationStatus=[node("B1", "RUNNING"), node("B1", "COMPLETED", url="http://x/1", count=3)])
    result = run(client, tmp_path)
    assert result.status == "COMPLETED" and result.object_count == 3 and result.restarts == 0
    assert no_download == ["http://x/1"]


def test_waits_for_an_operation_already_in_progress_then_starts(tmp_path, no_download):
    client = FakeClient(StartBulkQuery=[IN_PROGRESS, started("B2")],
                        CurrentBulkOperation=[current("RUNNING"), current("RUNNING"), current("COMPLETED")],
                        BulkOperationStatus=[node("B2", "COMPLETED", url="http://x/2")])
    result = run(client, tmp_path)
    assert result.operation_id == "B2"
    assert [c[0] for c in client.calls] == ["StartBulkQuery", "CurrentBulkOperation", "CurrentBulkOperation",
                                            "CurrentBulkOperation", "StartBulkQuery", "BulkOperationStatus"]
    assert client.calls[1][1] == {"type": "QUERY"}


def test_in_progress_forever_is_bounded(tmp_path, no_download):
    client = FakeClient(StartBulkQuery=[IN_PROGRESS] * 3, CurrentBulkOperation=[current("COMPLETED")] * 3)
    with pytest.raises(BulkOperationError, match="kept running"):
        run(client, tmp_path, max_in_progress_waits=2)


def test_other_user_errors_are_not_waited_out(tmp_path, no_download):
    bad = {"bulkOperationRunQuery": {"bulkOperation": None, "userErrors": [
        {"field": ["query"], "code": "INVALID", "message": "Invalid bulk query: Field 'x' doesn't exist"}]}}
    client = FakeClient(StartBulkQuery=[bad])
    with pytest.raises(ShopifyUserError, match="Field 'x'"):
        run(client, tmp_path)


@pytest.mark.parametrize("status", ["FAILED", "CANCELED", "EXPIRED"])
def test_restarts_after_a_bad_end(tmp_path, no_download, status, caplog):
    client = FakeClient(StartBulkQuery=[started("B1"), started("B2")],
                        BulkOperationStatus=[node("B1", status, error_code="INTERNAL_SERVER_ERROR",
                                                  partial="http://x/partial"),
                                             node("B2", "COMPLETED", url="http://x/2")])
    with caplog.at_level("WARNING"):
        result = run(client, tmp_path)
    assert result.operation_id == "B2" and result.restarts == 1
    assert no_download == ["http://x/2"]  # partial data is never downloaded
    if status == "FAILED":
        assert "http://x/partial" in caplog.text


def test_gives_up_after_max_restarts_naming_status_and_code(tmp_path, no_download):
    client = FakeClient(StartBulkQuery=[started(f"B{i}") for i in range(3)],
                        BulkOperationStatus=[node(f"B{i}", "FAILED", error_code="TIMEOUT") for i in range(3)])
    with pytest.raises(BulkOperationError, match=r"ended FAILED \(errorCode=TIMEOUT\) after 2 restart.*too heavy"):
        run(client, tmp_path, max_restarts=2)
    assert no_download == []


# -------------------------------------------------------------------------------------------------- download

class FakeStream:
    def __init__(self, chunks, fail_after=None, headers=None):
        self.chunks, self.fail_after, self.headers = chunks, fail_after, headers or {}

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    def raise_for_status(self):
        pass

    def iter_content(self, size):
        for i, c in enumerate(self.chunks):
            if self.fail_after is not None and i == self.fail_after:
                raise requests.exceptions.ChunkedEncodingError("connection reset mid-way")
            yield c


class FakeGetSession:
    def __init__(self, responses):
        self.responses = list(responses)
        self.calls = 0

    def get(self, url, stream=True, timeout=None):
        self.calls += 1
        return self.responses.pop(0)


def test_download_failing_mid_way_restarts_from_scratch(tmp_path):
    dest = tmp_path / "r.jsonl"
    dest.write_text("OLD\n")
    chunks = [b'{"id":1}\n', b'{"id":2}\n', b'{"id":3}\n']
    session = FakeGetSession([FakeStream(chunks, fail_after=2), FakeStream(chunks)])
    size = bulk.download("http://x", dest, session=session, sleep=lambda s: None)
    assert session.calls == 2 and size == sum(map(len, chunks))
    assert dest.read_bytes() == b"".join(chunks)  # not the first attempt's two lines + the second's three
    assert not list(tmp_path.glob(".*part"))


def test_download_that_never_succeeds_leaves_dest_untouched(tmp_path):
    dest = tmp_path / "r.jsonl"
    dest.write_text("OLD\n")
    session = FakeGetSession([FakeStream([b"a", b"b"], fail_after=1) for _ in range(2)])
    with pytest.raises(BulkOperationError, match="2 attempt"):
        bulk.download("http://x", dest, session=session, sleep=lambda s: None, attempts=2)
    assert dest.read_text() == "OLD\n" and not list(tmp_path.glob(".*part"))


def test_truncated_download_is_detected_by_content_length(tmp_path):
    dest = tmp_path / "r.jsonl"
    session = FakeGetSession([FakeStream([b"abc"], headers={"Content-Length": "10"}),
                              FakeStream([b"abcdefghij"], headers={"Content-Length": "10"})])
    assert bulk.download("http://x", dest, session=session, sleep=lambda s: None) == 10


# -------------------------------------------------------------------------------------------------- readers

def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


P = "gid://shopify/Product/{}"
V = "gid://shopify/ProductVariant/{}"


def test_iter_bulk_records_splits_parent_id(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [{"id": P.format(1)}, {"id": V.format(1), "__parentId": P.format(1)}])
    assert list(iter_bulk_records(path)) == [({"id": P.format(1)}, None), ({"id": V.format(1)}, P.format(1))]
