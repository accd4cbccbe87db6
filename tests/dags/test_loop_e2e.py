"""End to end: the five DAGs run through the real scheduler on a small simulated store, chained by Assets.

Starts an isolated copy of the whole stack (own state dir, ports and databases, XS store), triggers shopify_ingest
exactly as `make demo` does, follows the Asset-triggered runs to the end, checks what each stage wrote, and stops
everything again. Takes a few minutes: marked e2e (`make test` runs it; `make test-fast` skips it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from devstack import postgres
from devstack.settings import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

STACK_ENV = {
    "STORELOOP_STATE_DIR": str(ROOT / ".local" / "e2e"),
    "STORELOOP_DB_PREFIX": "storeloop_e2e",
    "STORELOOP_AIRFLOW_PORT": "18080",
    "STORELOOP_MLFLOW_PORT": "15000",
    "STORELOOP_SHOPIFY_PORT": "18010",
    "STORELOOP_SLACK_PORT": "18020",
    "STORELOOP_DBT_DOCS_PORT": "18030",
    "STORELOOP_STORE_SIZE": "XS",
    "STORELOOP_STORE_SEED": "7",
    # the connections and URLs are derived from the ports above, never taken from a developer's .env
    "AIRFLOW_CONN_WAREHOUSE": "",
    "AIRFLOW_CONN_SHOPIFY": "",
    "AIRFLOW_CONN_SLACK": "",
    "MLFLOW_TRACKING_URI": "",
    "STORELOOP_LANDING_URL": "",
}


def _devstack(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "devstack", *args], cwd=ROOT, env={**os.environ, **STACK_ENV},
                          capture_output=True, text=True, timeout=timeout)


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def stack(pg_server_url):
    """A fresh stack: its databases and state dir are wiped first, its processes stopped afterwards."""
    _devstack("down", timeout=120)
    state = Path(STACK_ENV["STORELOOP_STATE_DIR"])
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    # share the server the suite resolved (machine or project cluster) instead of resolving again
    (state / "resolved.env").write_text(f"STORELOOP_DATABASE_URL='{pg_server_url}'\n")
    for role in ("", "_airflow", "_mlflow"):
        postgres.drop_database(pg_server_url, STACK_ENV["STORELOOP_DB_PREFIX"] + role)
    for step in (("setup",), ("up",)):
        result = _devstack(*step)
        assert result.returncode == 0, f"devstack {step[0]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    os.environ.update({k: v for k, v in STACK_ENV.items()})
    from devstack.settings import load_settings

    settings = load_settings()
    for key in STACK_ENV:
        os.environ.pop(key, None)
    yield settings
    result = _devstack("down", timeout=180)
    assert result.returncode == 0, result.stderr


def test_the_nightly_loop_runs_end_to_end(stack):
    from devstack.demo import airflow_api, collect_summary
    from devstack.loop import run_loop, wait_for_dags

    api = airflow_api(stack)
    wait_for_dags(api)
    # before the night: the merchant archives one product and turns another into a gift card
    shop = f"http://127.0.0.1:{stack.port('shopify')}"
    from storeloop.shopify.client import ShopifyClient
    from storeloop.shopify.config import ShopifyConfig

    client = ShopifyClient(ShopifyConfig(shop, stack["STORELOOP_SANDBOX_SHOPIFY_TOKEN"]))
    made_ineligible = [n["id"] for n in client.execute("{ products(first: 2) { nodes { id } } }")["products"]["nodes"]]
    for product_id, change in zip(made_ineligible, ({"status": "ARCHIVED"}, {"isGiftCard": True}), strict=True):
        with urllib.request.urlopen(urllib.request.Request(
                f"{shop}/_sandbox/products", data=json.dumps({"id": product_id, **change}).encode(),
                headers={"Content-Type": "application/json"}, method="POST"), timeout=10) as resp:
            assert resp.status == 200
    result = run_loop(api, timeout=1500)
    assert set(result.runs) == {"shopify_ingest", "shopify_features", "recommender_train", "recommender_score",
                                "recommender_monitor"}
    for dag_id, run in result.runs.items():
        assert run["state"] == "success", dag_id
    assert result.runs["shopify_features"]["run_type"] == "asset_triggered"
    # exactly one loop ran: no scheduled ingest started behind our back when the DAGs were registered
    assert [r["dag_run_id"] for r in api.runs("shopify_ingest")] == [result.runs["shopify_ingest"]["dag_run_id"]]

    summary = collect_summary(stack, result.runs)
    stats = _get_json(f"http://127.0.0.1:{stack.port('shopify')}/_sandbox/stats")
    rows = summary["rows_ingested"]
    # everything the store holds arrived in the warehouse, nothing quarantined
    assert rows["orders"] == stats["orders"] > 0
    assert rows["order_line_items"] == stats["line_items"]
    assert rows["customers"] == stats["customers"] and rows["products"] == stats["products"]
    assert summary["rows_quarantined"] == 0
    assert summary["interaction_rows"] > 0
    # a champion exists, and scoring used it: 10 recommendations for every scored customer
    model = summary["model"]
    assert model["version"] and "all.ndcg_at_10" in model["metrics"] and "new.ndcg_at_10" in model["metrics"]
    assert model["tags"].get("decision") in ("promoted", "baseline_promoted_no_champion")
    # the run names the dbt build of the tables it trained on
    assert model["run_tags"].get("data.dbt.fct_order_lines.invocation_id")
    # and the point-in-time feature snapshots the ranker learned from (as of T) and was evaluated on (as of C)
    assert model["run_tags"].get("data.features.at_train.dbt_invocation_id")
    assert model["run_tags"]["data.features.at_cutoff.as_of"] > model["run_tags"]["data.features.at_train.as_of"]
    assert "skipped.ranker" not in model["run_tags"]  # the learned ranker was trained and evaluated
    rec = summary["recommendations"]
    assert rec["customers"] > 0 and rec["rows"] == 10 * rec["customers"]
    assert str(rec["model_version"]) == str(model["version"])
    # the write-back reached the store, the drift report exists, the team was told
    assert summary["store_metafields"] >= stats["products"] * 0.9
    metafields = _get_json(f"http://127.0.0.1:{stack.port('shopify')}/_sandbox/metafields")
    # two customer lists: buy again (the champion's) and for you (only products the customer never bought)
    assert summary["for_you_model"] is not None, "no for_you model: no candidate beat popularity on new items"
    assert rec["for_you_customers"] > 0 and str(rec["for_you_version"]) == str(summary["for_you_model"]["version"])
    assert {m["key"] for m in metafields} == {"related_products", "buy_again", "for_you"}
    assert summary["publish"]["status"] == "complete" and summary["publish"]["written"] == len(metafields)
    # only products a shopper can buy are listed
    import psycopg2

    with psycopg2.connect(stack.warehouse_url) as conn, conn.cursor() as cur:
        cur.execute("select product_id from marts.dim_products where not is_eligible")
        ineligible = {row[0] for row in cur.fetchall()}
    listed = {p for m in metafields for p in json.loads(m["value"])}
    assert set(made_ineligible) <= ineligible and listed and not listed & ineligible
    assert summary["drift"] is not None
    html = summary["drift"]["html_path"].replace("file://", "")
    assert Path(html).exists() and Path(html).stat().st_size > 10_000
    assert summary["slack_messages"] == 1 and "Storeloop" in summary["slack_last"]
    # dbt docs were generated by the DAG and are served
    with urllib.request.urlopen(f"http://127.0.0.1:{stack.port('dbt_docs')}/dbt/index.html", timeout=10) as resp:
        assert resp.status == 200


def test_down_leaves_no_process_behind(stack):
    result = _devstack("down", timeout=180)
    assert result.returncode == 0, result.stderr
    marker = f"STORELOOP_STATE_DIR={stack.state_dir}".encode()
    leftovers = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                leftovers.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:200])
        except OSError:
            continue
    assert leftovers == []
    for port in ("airflow", "mlflow", "shopify", "slack", "dbt_docs"):
        assert not postgres.answers("127.0.0.1", stack.port(port)), port
