"""shopify_ingest through Airflow (`airflow dags test`) for a merchant who only has CSV exports: the API tasks skip
with the reason, the exports in <landing>/exports/ load into raw_shopify, and the raw_shopify Asset is still emitted;
a file that cannot be ingested is set aside in <landing>/exports/rejected/ and alerted, and the run still succeeds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psycopg2
import pytest
from support.airflow_runs import assert_succeeded, dags_test, finished_run
from support.export_drops import drop_fixture, drop_without_column, sink_messages, slack_connection
from support.fixture_files import shopify_export

from sandbox.slack_sink import start_slack_sink, stop_slack_sink

pytestmark = pytest.mark.integration


def _dags_test(dag_test_env: dict[str, str], warehouse_db: str, landing: Path, **env: str) -> str:
    """`airflow dags test shopify_ingest` with exports only; asserts the run succeeded; returns its log."""
    log = dags_test("shopify_ingest", {**dag_test_env, "AIRFLOW_CONN_WAREHOUSE": warehouse_db,
                                       "STORELOOP_LANDING_URL": landing.as_uri(),
                                       "STORELOOP_INGEST_SOURCES": "exports", **env}, timeout=600)
    assert_succeeded("shopify_ingest", log)
    assert "STORELOOP_INGEST_SOURCES does not include api" in log
    return log


def _asset_events(dag_test_env: dict[str, str], log: str) -> list[dict]:
    """The extra of each raw_shopify Asset event the run in `log` emitted, read from Airflow's metadata database."""
    run_id, _ = finished_run(log)
    url = dag_test_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("+psycopg2", "", 1)
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("select extra from asset_event where source_dag_id = 'shopify_ingest' and source_run_id = %s",
                    (run_id,))
        return [json.loads(e) if isinstance(e, str) else e for (e,) in cur.fetchall()]


def test_exports_only_run_loads_the_exports_and_emits_the_asset(dag_test_env, warehouse_db, tmp_path):
    landing = tmp_path / "landing"
    (landing / "exports").mkdir(parents=True)
    shutil.copy(shopify_export("orders_export_small_store.csv"), landing / "exports" / "orders_export_1.csv")
    shutil.copy(shopify_export("products_export_2021_format.csv"), landing / "exports" / "products_export_1.csv")
    _dags_test(dag_test_env, warehouse_db, landing)

    with psycopg2.connect(warehouse_db) as conn, conn.cursor() as cur:
        cur.execute("select _source, count(*) from raw_shopify.order_line_items group by 1")
        assert cur.fetchall() == [("csv_export:orders_export_1.csv", 811)]
        cur.execute("select count(*) from raw_shopify.products where _source = 'csv_export:products_export_1.csv'")
        assert cur.fetchone()[0] == 20
        cur.execute("select mode, count(*) from raw_shopify._ingest_batches group by 1")
        assert cur.fetchall() == [("export", 2)]
    assert (Path(landing) / "shopify" / "exports").is_dir(), "the ingested exports were not landed under the run"


def test_a_bad_file_beside_a_good_one_is_set_aside_and_the_run_succeeds(dag_test_env, warehouse_db, tmp_path):
    landing = tmp_path / "landing"
    drop_fixture(landing, "orders_export_small_store.csv", "orders_export_1.csv")
    drop_without_column(landing, "products_export_2021_format.csv", "products_export_1.csv", "Handle")
    server, _thread, base_url = start_slack_sink(tmp_path / "slack")
    try:
        log = _dags_test(dag_test_env, warehouse_db, landing, AIRFLOW_CONN_SLACK=slack_connection(base_url))
        messages = sink_messages(base_url)
    finally:
        stop_slack_sink(server)

    rejected = landing / "exports" / "rejected"
    assert sorted(p.name for p in rejected.iterdir()) == ["products_export_1.csv", "products_export_1.csv.reason.txt"]
    assert not (landing / "exports" / "products_export_1.csv").exists()
    assert "missing column(s) 'Handle'" in (rejected / "products_export_1.csv.reason.txt").read_text()
    assert len(messages) == 1, [m["text"] for m in messages]
    assert "`shopify_ingest`" in messages[0]["text"] and "`products_export_1.csv`" in messages[0]["text"]
    (event,) = _asset_events(dag_test_env, log)
    assert [r["file"] for r in event["rejected"]] == ["products_export_1.csv"], event
    assert "missing column(s) 'Handle'" in event["rejected"][0]["reason"]
    assert [b["resource"] for b in event["batches"]] == ["orders"]
    with psycopg2.connect(warehouse_db) as conn, conn.cursor() as cur:
        cur.execute("select resource, source from raw_shopify._ingest_batches")
        assert cur.fetchall() == [("orders", "csv_export:orders_export_1.csv")]
        cur.execute("select count(*) from raw_shopify.products")
        assert cur.fetchone()[0] == 0
