"""Issue #20, one bad file never blocks a night: an export that cannot be ingested is moved to
<landing>/exports/rejected/ with its reason, alerted once in Slack, named in the run summary, and the other files load.

Real PostgreSQL, a file:// landing zone (and one s3:// case on moto's S3 server), the Slack sink over real HTTP."""

from __future__ import annotations

import json
import logging

import psycopg2
import pytest
from support.export_drops import (
    NOT_UTF8_CUSTOMERS,
    drop_bytes,
    drop_empty,
    drop_fixture,
    drop_without_column,
    sink_messages,
    slack_connection,
    task_context,
)
from support.s3_landing import moto_server, point_landing_at_s3

from sandbox.slack_sink import start_slack_sink, stop_slack_sink
from storeloop.orchestration import ingest
from storeloop.orchestration.callbacks import notify_rejected_exports

pytestmark = pytest.mark.integration

TOKEN = "xoxb-rejected-exports-test"


@pytest.fixture
def slack(tmp_path, monkeypatch):
    server, _thread, base_url = start_slack_sink(tmp_path / "slack", token=TOKEN)
    monkeypatch.setenv("AIRFLOW_CONN_SLACK", slack_connection(base_url, TOKEN))
    monkeypatch.setenv("STORELOOP_SLACK_CHANNEL", "#storeloop-alerts")
    yield base_url
    stop_slack_sink(server)


@pytest.fixture
def landing(tmp_path, warehouse_db, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", warehouse_db)
    root = tmp_path / "landing"
    monkeypatch.setenv("STORELOOP_LANDING_URL", root.as_uri())
    return root


def _night(run_id: str) -> list[dict]:
    """What the DAG's ingest_exports task does: alert each rejected file right after it is moved."""
    context = task_context(run_id)
    return ingest.ingest_exports(run_id, on_reject=lambda r: notify_rejected_exports([r], context))


def _query(db: str, sql: str) -> list[tuple]:
    with psycopg2.connect(db) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def _split(entries: list[dict]) -> tuple[list[dict], list[dict]]:
    return [e for e in entries if not ingest.is_rejection(e)], [e for e in entries if ingest.is_rejection(e)]


def test_bad_files_are_set_aside_alerted_once_and_the_good_one_loads(landing, slack, warehouse_db):
    drop_fixture(landing, "orders_export_small_store.csv", "orders_export_1.csv")
    drop_without_column(landing, "products_export_2021_format.csv", "products_export_1.csv", "Handle")
    drop_empty(landing, "customers_export_1.csv")

    entries = _night("scheduled__night1")
    loaded, rejected = _split(entries)
    assert [r["resource"] for r in loaded] == ["orders"]
    assert [(r["file"], r["resource"]) for r in rejected] == [("customers_export_1.csv", "customers"),
                                                               ("products_export_1.csv", "products")]
    assert "is empty" in rejected[0]["reason"]
    assert "missing column(s) 'Handle'" in rejected[1]["reason"]
    assert all(r["reason"].startswith(r["file"] + ":") for r in rejected), "the reason names the dropped file"
    assert not any("storeloop-exports-" in r["reason"] for r in rejected), "not the task's temporary copy"

    exports = landing / "exports"
    assert sorted(p.name for p in exports.iterdir() if p.is_file()) == ["orders_export_1.csv"]
    assert sorted(p.name for p in (exports / "rejected").iterdir()) == [
        "customers_export_1.csv", "customers_export_1.csv.reason.txt",
        "products_export_1.csv", "products_export_1.csv.reason.txt"]
    assert (exports / "rejected" / "customers_export_1.csv").read_bytes() == b"", "moved unchanged"
    note = (exports / "rejected" / "products_export_1.csv.reason.txt").read_text()
    assert "file: products_export_1.csv\n" in note and "run id: scheduled__night1\n" in note
    assert f"error: {rejected[1]['reason']}\n" in note and "rejected at: 20" in note
    assert "drop the corrected file into exports/ again under the same name, products_export_1.csv" in note
    partition = landing / "shopify" / "exports" / "run=scheduled__night1"
    assert sorted(p.name for p in partition.iterdir()) == ["orders_export_1.csv"], "only what the run loaded"

    # nothing of a rejected file is committed: no batch, no rows, no quarantined lines
    assert _query(warehouse_db, "select resource, source from raw_shopify._ingest_batches") == [
        ("orders", "csv_export:orders_export_1.csv")]
    assert _query(warehouse_db, "select count(*) from raw_shopify.products") == [(0,)]
    assert _query(warehouse_db, "select count(*) from raw_shopify.customers") == [(0,)]
    assert _query(warehouse_db, "select distinct resource from raw_shopify._quarantine "
                                "where resource <> 'orders'") == []

    summary = ingest.summarize(entries)
    assert summary["rejected"] == [{"file": r["file"], "reason": r["reason"]} for r in rejected]
    assert set(summary["rows_loaded"]) == {"orders", "order_line_items"}
    assert [b["resource"] for b in summary["batches"]] == ["orders"]
    json.dumps(summary)  # an Asset event's extra

    messages = sink_messages(slack)
    assert len(messages) == 2, [m["text"] for m in messages]
    for message, r in zip(messages, rejected, strict=True):
        text = message["text"]
        assert message["channel"] == "#storeloop-alerts"
        assert f"`{r['file']}`" in text and "`shopify_ingest`" in text and "`scheduled__night1`" in text
        assert "/exports/rejected/" + r["file"] in text and f"{r['file']}.reason.txt" in text
        assert "drop the corrected file into `exports/` again under the same name" in text
        assert TOKEN not in text
    assert "missing column(s) 'Handle'" in messages[1]["text"]

    # the next night: the bad files are gone from exports/, the good one was ingested already
    assert _night("scheduled__night2") == []
    assert len(sink_messages(slack)) == 2, "no second alert"
    assert _query(warehouse_db, "select count(*) from raw_shopify._ingest_batches") == [(1,)]

    # a retry of the first night's task: its own file reloads (replacing its batch), the files it rejected are still
    # reported (from their notes), and nobody is alerted again
    retry_loaded, retry_rejected = _split(_night("scheduled__night1"))
    assert [r["rows_loaded"] for r in retry_loaded] == [r["rows_loaded"] for r in loaded]
    assert [(r["file"], r["reason"]) for r in retry_rejected] == [(r["file"], r["reason"]) for r in rejected]
    assert len(sink_messages(slack)) == 2, "a retry does not alert twice"

    # the merchant fixes the products export and drops it again under the same name
    drop_fixture(landing, "products_export_2021_format.csv", "products_export_1.csv")
    loaded3, rejected3 = _split(_night("scheduled__night3"))
    assert [r["resource"] for r in loaded3] == ["products"] and rejected3 == []
    assert _query(warehouse_db, "select count(*) from raw_shopify.products "
                                "where _source = 'csv_export:products_export_1.csv' and _run_id = 'scheduled__night3'"
                  ) == [(20,)]
    assert len(sink_messages(slack)) == 2


def test_a_new_rejection_of_the_same_name_replaces_the_rejected_copy(landing, slack):
    drop_empty(landing, "customers_export_1.csv")
    _night("scheduled__a")
    drop_bytes(landing, "customers_export_1.csv", NOT_UTF8_CUSTOMERS)
    (second,) = _night("scheduled__b")
    rejected = landing / "exports" / "rejected"
    assert "is not UTF-8" in second["reason"]
    assert (rejected / "customers_export_1.csv").stat().st_size > 0, "the newest drop is the one kept"
    assert "run id: scheduled__b\n" in (rejected / "customers_export_1.csv.reason.txt").read_text()
    assert len(sink_messages(slack)) == 2, "one alert per rejection"


def test_a_broken_slack_does_not_fail_the_task(landing, monkeypatch, caplog):
    monkeypatch.setenv("AIRFLOW_CONN_SLACK", slack_connection("http://127.0.0.1:9"))
    drop_fixture(landing, "orders_export_small_store.csv", "orders_export_1.csv")
    drop_empty(landing, "products_export_1.csv")
    with caplog.at_level(logging.WARNING, logger="storeloop.orchestration.callbacks"):
        loaded, rejected = _split(_night("scheduled__noslack"))
    assert [r["resource"] for r in loaded] == ["orders"] and [r["file"] for r in rejected] == ["products_export_1.csv"]
    assert "could not post the rejection of products_export_1.csv to Slack" in caplog.text
    assert (landing / "exports" / "rejected" / "products_export_1.csv").exists()


def test_a_database_error_still_fails_the_task_and_rejects_nothing(landing, slack, monkeypatch):
    drop_fixture(landing, "orders_export_small_store.csv", "orders_export_1.csv")

    def broken(*_args, **_kw):
        raise psycopg2.errors.DataError("numeric field overflow")

    monkeypatch.setattr(ingest, "load_csv_export", broken)
    with pytest.raises(psycopg2.errors.DataError):
        _night("scheduled__dberror")
    assert (landing / "exports" / "orders_export_1.csv").exists(), "the file waits for the retry"
    assert not (landing / "exports" / "rejected").exists()
    assert sink_messages(slack) == []


# ------------------------------------------------------------------------------------------------------------ s3://

BUCKET = "storeloop-rejected"


@pytest.fixture
def s3_landing(warehouse_db, monkeypatch):
    """A landing zone on moto's S3 server, under a connection id of its own (Airflow caches the s3 filesystem per
    connection id, endpoint included, so no other module's server is reused)."""
    with moto_server() as endpoint:
        s3 = point_landing_at_s3(monkeypatch, endpoint, bucket=BUCKET, prefix="shop-r", conn_id="landing_s3_rejected")
        monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", warehouse_db)
        yield s3


def test_rejected_files_move_on_s3_too(s3_landing, slack, tmp_path):
    from storeloop.orchestration.landing import export_files

    good = drop_fixture(tmp_path, "orders_export_small_store.csv", "orders_export_1.csv")
    bad = drop_without_column(tmp_path, "products_export_2021_format.csv", "products_export_1.csv", "Handle")
    for f in (good, bad):
        s3_landing.upload_file(str(f), BUCKET, f"shop-r/exports/{f.name}")

    loaded, rejected = _split(_night("scheduled__s3"))
    assert [r["resource"] for r in loaded] == ["orders"] and [r["file"] for r in rejected] == ["products_export_1.csv"]
    keys = sorted(o["Key"] for o in s3_landing.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert "shop-r/exports/products_export_1.csv" not in keys
    assert {"shop-r/exports/rejected/products_export_1.csv",
            "shop-r/exports/rejected/products_export_1.csv.reason.txt"} <= set(keys)
    assert not any(k.startswith("shop-r/shopify/exports/") and k.endswith("products_export_1.csv") for k in keys)
    body = s3_landing.get_object(Bucket=BUCKET, Key="shop-r/exports/rejected/products_export_1.csv")["Body"].read()
    assert body == bad.read_bytes(), "moved unchanged"
    assert [p.name for p in export_files()] == ["orders_export_1.csv"], "rejected/ is not looked into"
    assert len(sink_messages(slack)) == 1
    assert _night("scheduled__s3_next") == [] and len(sink_messages(slack)) == 1
