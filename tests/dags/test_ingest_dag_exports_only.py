"""shopify_ingest through Airflow (`airflow dags test`) for a merchant who only has CSV exports: the API tasks skip
with the reason, the exports in <landing>/exports/ load into raw_shopify, and the raw_shopify Asset is still emitted."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import psycopg2
import pytest
from support.fixture_files import shopify_export

from devstack.settings import ROOT, load_settings

pytestmark = pytest.mark.integration



def test_exports_only_run_loads_the_exports_and_emits_the_asset(warehouse_db, tmp_path):
    landing = tmp_path / "landing"
    (landing / "exports").mkdir(parents=True)
    shutil.copy(shopify_export("orders_export_small_store.csv"), landing / "exports" / "orders_export_1.csv")
    shutil.copy(shopify_export("products_export_2021_format.csv"), landing / "exports" / "products_export_1.csv")
    env = {**os.environ, **load_settings().process_env(),
           "AIRFLOW_CONN_WAREHOUSE": warehouse_db, "STORELOOP_LANDING_URL": landing.as_uri(),
           "STORELOOP_INGEST_SOURCES": "exports"}
    result = subprocess.run([str(ROOT / ".venv/bin/airflow"), "dags", "test", "shopify_ingest"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert "STORELOOP_INGEST_SOURCES does not include api" in log
    assert "DagRun Finished" in log and "state=success" in log.split("DagRun Finished", 1)[1][:400], log[-3000:]

    with psycopg2.connect(warehouse_db) as conn, conn.cursor() as cur:
        cur.execute("select _source, count(*) from raw_shopify.order_line_items group by 1")
        assert cur.fetchall() == [("csv_export:orders_export_1.csv", 811)]
        cur.execute("select count(*) from raw_shopify.products where _source = 'csv_export:products_export_1.csv'")
        assert cur.fetchone()[0] == 20
        cur.execute("select mode, count(*) from raw_shopify._ingest_batches group by 1")
        assert cur.fetchall() == [("export", 2)]
    assert (Path(landing) / "shopify" / "exports").is_dir(), "the ingested exports were not landed under the run"
