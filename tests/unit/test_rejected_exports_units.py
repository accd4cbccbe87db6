"""Issue #20 without a database: the rejected exports' note, summary, "nothing ingested" error and Slack messages
(tests/integration/test_rejected_exports.py runs the whole path against PostgreSQL, file://, s3:// and the sink)."""

from __future__ import annotations

import logging

import pytest
from support.export_drops import task_context

from storeloop.orchestration import callbacks, connections, ingest


def _rejection(file="products_export_1.csv", reason="products_export_1.csv: not a Shopify products export: "
               "missing column(s) 'Handle'"):
    return {"rejected": True, "file": file, "resource": "products", "reason": reason,
            "moved_to": f"file:///srv/landing/exports/rejected/{file}", "rejected_at": "2026-03-01T02:00:05Z",
            "run_id": "scheduled__1"}


def _loaded():
    return {"resource": "orders", "source_file": "file:///srv/landing/shopify/exports/run=x/orders_export_1.csv",
            "lines_in": 3, "rows_loaded": {"orders": 1, "order_line_items": 3}, "rows_quarantined": 0,
            "max_updated_at": None}


@pytest.mark.parametrize(("text", "expected"), [
    ("cannot read https://bucket.s3.amazonaws.com/exports/a.csv?X-Amz-Signature=abc&X-Amz-Credential=k/1 (403)",
     "cannot read https://bucket.s3.amazonaws.com/exports/a.csv (403)"),
    ("s3://bucket/exports/a.csv?versionId=7: gone", "s3://bucket/exports/a.csv: gone"),
    ("'https://h/p?token=xoxb-1'", "'https://h/p'"),
    ("postgresql://storeloop:s3cret@db:5432/warehouse refused", "postgresql://db:5432/warehouse refused"),
    ("s3://aws_default@bucket/exports/a.csv", "s3://aws_default@bucket/exports/a.csv"),
    ("no url here? none", "no url here? none"),
])
def test_redact_urls_strips_query_strings_and_credentials(text, expected):
    assert callbacks.redact_urls(text) == expected


def test_the_note_reads_back_as_the_rejection():
    entry = _rejection()
    note = ingest._note(entry["file"], run_id=entry["run_id"], when=entry["rejected_at"], error=entry["reason"],
                        moved_to=entry["moved_to"])
    assert ingest.rejection_from_note(entry["file"], note) == entry
    assert "drop the corrected file into exports/ again under the same name, products_export_1.csv" in note
    assert ingest.rejection_from_note("x.csv", "someone's own notes: about x.csv\n") is None


def test_summarize_lists_rejections_apart_from_the_batches():
    summary = ingest.summarize([_loaded(), _rejection()])
    assert summary["rejected"] == [{"file": "products_export_1.csv",
                                    "reason": "products_export_1.csv: not a Shopify products export: missing "
                                              "column(s) 'Handle'"}]
    assert [b["resource"] for b in summary["batches"]] == ["orders"]
    assert summary["rows_loaded"] == {"orders": 1, "order_line_items": 3} and summary["rows_quarantined"] == 0
    assert ingest.summarize([_loaded()])["rejected"] == []


def test_nothing_ingested_names_every_rejected_file_and_why():
    ingest.require_something_ingested([_loaded(), _rejection()])
    with pytest.raises(RuntimeError, match="no CSV exports were waiting"):
        ingest.require_something_ingested([])
    with pytest.raises(RuntimeError) as exc:
        ingest.require_something_ingested([_rejection(), _rejection("customers_export_1.csv",
                                                                    "customers_export_1.csv: is empty")])
    message = str(exc.value)
    assert message.startswith("Nothing was ingested") and "every CSV export waiting was rejected" in message
    assert "products_export_1.csv: products_export_1.csv: not a Shopify products export" in message
    assert "customers_export_1.csv: customers_export_1.csv: is empty" in message


class _Client:
    def __init__(self, fail: bool = False):
        self.posts: list[dict] = []
        self.fail = fail

    def chat_postMessage(self, **kwargs):  # noqa: N802 (slack_sdk's name)
        if self.fail:
            raise ConnectionError("Slack is down")
        self.posts.append(kwargs)
        return {"ok": True}


@pytest.fixture
def client(monkeypatch):
    c = _Client()
    monkeypatch.setattr(connections, "slack_client", lambda: c)
    monkeypatch.setattr(connections, "slack_channel", lambda: "#storeloop-alerts")
    return c


def test_one_message_per_rejected_file_with_what_to_do(client):
    signed = "https://b.s3.amazonaws.com/exports/p.csv?X-Amz-Signature=deadbeef"
    posted = callbacks.notify_rejected_exports(
        [_rejection(), _rejection("customers_export_<1>.csv", f"cannot read {signed} & co")],
        task_context("scheduled__1"))
    assert posted == 2 and [p["channel"] for p in client.posts] == ["#storeloop-alerts"] * 2
    first, second = (p["text"] for p in client.posts)
    assert "`shopify_ingest`" in first and "`ingest_exports`" in first and "`scheduled__1`" in first
    assert "`products_export_1.csv`" in first and "missing column(s) 'Handle'" in first
    assert "`file:///srv/landing/exports/rejected/products_export_1.csv`" in first
    assert "`products_export_1.csv.reason.txt`" in first
    assert "drop the corrected file into `exports/` again under the same name, `products_export_1.csv`" in first
    assert "X-Amz-Signature" not in second and "deadbeef" not in second
    assert "`customers_export_&lt;1&gt;.csv`" in second and "&amp; co" in second


def test_a_broken_slack_only_logs(monkeypatch, caplog):
    monkeypatch.setattr(connections, "slack_client", lambda: _Client(fail=True))
    with caplog.at_level(logging.WARNING, logger="storeloop.orchestration.callbacks"):
        assert callbacks.notify_rejected_exports([_rejection()], task_context("scheduled__1")) == 0
        callbacks.notify_failure({**task_context("scheduled__1"), "exception": RuntimeError("boom")})
    assert "could not post the rejection of products_export_1.csv to Slack: Slack is down" in caplog.text
    assert "could not post the failure to Slack: Slack is down" in caplog.text


def test_the_failure_message_goes_through_the_same_helper(client):
    callbacks.notify_failure({**task_context("scheduled__1", task_id="extract_load_orders"),
                              "exception": RuntimeError("GET https://h/x?sig=secret failed")})
    (post,) = client.posts
    assert "`shopify_ingest` failed at task `extract_load_orders` (run `scheduled__1`)" in post["text"]
    assert "https://h/x failed" in post["text"] and "secret" not in post["text"]
