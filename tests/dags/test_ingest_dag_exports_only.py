"""shopify_ingest through Airflow (`airflow dags test`) for a merchant who only has CSV exports: the API tasks skip
with the reason, the exports in <landing>/exports/ load into raw_shopify, and the raw_shopify Asset is still emitted;
a file that cannot be ingested is set aside in <landing>/exports/rejected/ and alerted, and the run still succeeds."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import psycopg2
import pytest
from support.export_drops import drop_fixture, drop_without_column, sink_messages, slack_connection
from support.fixture_files import shopify_export

from devstack.settings import ROOT, load_settings
from sandbox.slack_sink import start_slack_sink, stop_slack_sink

pytestmark = pytest.mark.integration


def _dags_test(warehouse_db: str, landing: Path, **env: str) -> str:
    """`airflow dags test shopify_ingest` with exports only; asserts the run succeeded; returns its log."""
    env = {**os.environ, **load_settings().process_env(),
           "AIRFLOW_CONN_WAREHOUSE": warehouse_db, "STORELOOP_LANDING_URL": landing.as_uri(),
           "STORELOOP_INGEST_SOURCES": "exports", **env}
    result = subprocess.run([str(ROOT / ".venv/bin/airflow"), "dags", "test", "shopify_ingest"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert "STORELOOP_INGEST_SOURCES does not include api" in log
    assert "DagRun Finished" in log and "state=success" in log.split("DagRun Finished", 1)[1][:400], log[-3000:]
    return log


def _asset_events(log: str) -> list[dict]:
    """The extra of each raw_shopify Asset event the run in `log` emitted, read from Airflow's metadata database."""
    run_id = re.search(r"DagRun Finished: dag_id=shopify_ingest, logical_date=[^,]*, run_id=([^,\s]+),", log)[1]
    url = load_settings().process_env()["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("+psycopg2", "", 1)
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("select extra from asset_event where source_dag_id = 'shopify_ingest' and source_run_id = %s",
                    (run_id,))
        return [json.loads(e) if isinstance(e, str) else e for (e,) in cur.fetchall()]


def test_exports_only_run_loads_the_exports_and_emits_the_asset(warehouse_db, tmp_path):
    landing = tmp_path / "landing"
    (landing / "exports").mkdir(parents=True)
    shutil.copy(shopify_export("orders_export_small_store.csv"), landing / "exports" / "orders_export_1.csv")
    shutil.copy(shopify_export("products_export_2021_format.csv"), landing / "exports" / "products_export_1.csv")
    _dags_test(warehouse_db, landing)

    with psycopg2.connect(warehouse_db) as conn, conn.cursor() as cur:
        cur.execute("select _source, count(*) from raw_shopify.order_line_items group by 1")
        assert cur.fetchall() == [("csv_export:orders_export_1.csv", 811)]
        cur.execute("select count(*) from raw_shopify.products where _source = 'csv_export:products_export_1.csv'")
        assert cur.fetchone()[0] == 20
        cur.execute("select mode, count(*) from raw_shopify._ingest_batches group by 1")
        assert cur.fetchall() == [("export", 2)]
    assert (Path(landing) / "shopify" / "exports").is_dir(), "the ingested exports were not landed under the run"


def test_a_bad_file_beside_a_good_one_is_set_aside_and_the_run_succeeds(warehouse_db, tmp_path):
    landing = tmp_path / "landing"
    drop_fixture(landing, "orders_export_small_store.csv", "orders_export_1.csv")
    drop_without_column(landing, "products_export_2021_format.csv", "products_export_1.csv", "Handle")
    server, _thread, base_url = start_slack_sink(tmp_path / "slack")
    try:
        log = _dags_test(warehouse_db, landing, AIRFLOW_CONN_SLACK=slack_connection(base_url))
        messages = sink_messages(base_url)
    finally:
        stop_slack_sink(server)

    rejected = landing / "exports" / "rejected"
    assert sorted(p.name for p in rejected.iterdir()) == ["products_export_1.csv", "products_export_1.csv.reason.txt"]
    assert not (landing / "exports" / "products_export_1.csv").exists()
    assert "missing column(s) 'Handle'" in (rejected / "products_export_1.csv.reason.txt").read_text()
    assert len(messages) == 1, [m["text"] for m in messages]
    assert "`shopify_ingest`" in messages[0]["text"] and "`products_export_1.csv`" in messages[0]["text"]
    (event,) = _asset_events(log)
    assert [r["file"] for r in event["rejected"]] == ["products_export_1.csv"], event
    assert "missing column(s) 'Handle'" in event["rejected"][0]["reason"]
    assert [b["resource"] for b in event["batches"]] == ["orders"]
    with psycopg2.connect(warehouse_db) as conn, conn.cursor() as cur:
        cur.execute("select resource, source from raw_shopify._ingest_batches")
        assert cur.fetchall() == [("orders", "csv_export:orders_export_1.csv")]
        cur.execute("select count(*) from raw_shopify.products")
        assert cur.fetchone()[0] == 0
