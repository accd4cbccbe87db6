"""recommender_score through Airflow (`airflow dags test`): the DAG params reach the publish (`dry_run` writes nothing),
and a guardrail that stops a publish fails the run with exactly one Slack message, the one naming the rule (the
task's failure callback stays quiet, and the task is not retried). The stores and models are the publishing tests'
builders (tests/support/publish_store.py); the rules themselves are tested in tests/integration/test_publish_store.py.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
import requests
from support.airflow_runs import assert_succeeded, dags_test, finished_run
from support.export_drops import sink_messages, slack_connection
from support.publish_store import (
    published_state,
    query,
    register,
    shop_catalogue,
    store_lists,
    synthetic_lines,
    write_marts,
)
from support.shopify_admin import shopify_connection

from sandbox.shopify_emulator import start_emulator, stop_emulator
from sandbox.slack_sink import start_slack_sink, stop_slack_sink
from storeloop.recsys.models import PopularityRecommender, RepeatPurchaseRecommender
from storeloop.shopify.client import ShopifyClient
from storeloop.shopify.config import ShopifyConfig

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

TOKEN = "shpat_score_dag"
SLACK_TOKEN = "xoxb-score-dag"


def test_dry_run_param_and_a_stopped_publish_through_airflow(dag_test_env, warehouse_db, tmp_path, monkeypatch):
    import mlflow

    mlflow_uri = f"sqlite:///{tmp_path}/mlflow.db"
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    mlflow.set_tracking_uri(mlflow_uri)
    server, _t, shop = start_emulator(tmp_path / "shop", TOKEN, seed=42, size="XS", end=datetime(2026, 11, 1,
                                                                                                  tzinfo=UTC))
    sink, _s, slack = start_slack_sink(tmp_path / "slack", token=SLACK_TOKEN)
    try:
        client = ShopifyClient(ShopifyConfig(shop, TOKEN), backoff_s=0.05)
        products, customers = shop_catalogue(client)
        lines = synthetic_lines(products["product_id"].tolist(), customers)
        write_marts(warehouse_db, products, customers, lines)
        name = f"score_dag_{uuid.uuid4().hex[:8]}"
        register(RepeatPurchaseRecommender(), lines, name)
        env = {**dag_test_env,
               "AIRFLOW_CONN_WAREHOUSE": warehouse_db.replace("postgresql://postgres@",
                                                              "postgresql://postgres:postgres@"),
               "AIRFLOW_CONN_SHOPIFY": shopify_connection(shop, TOKEN),
               "AIRFLOW_CONN_SLACK": slack_connection(slack, SLACK_TOKEN),
               "MLFLOW_TRACKING_URI": mlflow_uri, "STORELOOP_MODEL_NAME": name}

        log = dags_test("recommender_score", env, "-c", json.dumps({"dry_run": True}))
        run_id = assert_succeeded("recommender_score", log)
        assert "dry run: nothing written to the store" in log
        assert store_lists(shop) == {} and published_state(warehouse_db) == {}
        assert query(warehouse_db, "select status from ml.publish_runs where run_id = %s", (run_id,)) == [
            ("dry_run",)]

        register(PopularityRecommender(window_days=3650), lines, name)  # one list for every customer
        requests.delete(f"{slack}/_sandbox/messages", timeout=10)
        log = dags_test("recommender_score", env)
        run_id, state = finished_run(log)
        assert state == "failed", log[-3000:]
        assert store_lists(shop) == {}
        messages = sink_messages(slack)
        assert len(messages) == 1, [m["text"][:200] for m in messages]
        assert "product_concentration" in messages[0]["text"] and "did not publish" in messages[0]["text"]
        assert query(warehouse_db, "select status from ml.publish_runs where run_id = %s", (run_id,)) == [
            ("aborted",)]
    finally:
        stop_slack_sink(sink)
        stop_emulator(server)
