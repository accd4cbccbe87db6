"""The dbt tests stop the shopify_features DAG before the features Asset is emitted (so recommender_train never
trains on bad features).

Runs the real DAG file (Cosmos-rendered from a prebuilt manifest, profile from the `warehouse` Airflow connection,
exactly the code path the scheduler runs) with `dag.test()` against a warehouse holding a planted duplicate order,
in a subprocess with its own AIRFLOW_HOME and SQLite metadata database. Retries are switched off for the run (the
DAG's own retries would only repeat the same failure).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.dbt_store import planted_duplicate_in_a_load, seed_store
from support.dbt_warehouse import DBT_PROJECT_DIR, REPO_ROOT, Warehouse, dbt_executable

pytestmark = pytest.mark.integration

PROBE = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(sys.argv[1])
assert not bag.import_errors, bag.import_errors
dag = bag.dags["shopify_features"]
for t in dag.tasks:
    t.retries = 0
dr = dag.test()
states = {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}
print("PROBE" + json.dumps({"run_state": str(dr.state), "states": states}))
"""


def airflow_env(tmp_path: Path, wh: Warehouse, project: Path) -> dict[str, str]:
    p = wh.dsn_params
    home = tmp_path / "airflow_home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "STORELOOP_"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO_ROOT / "dags"),
        AIRFLOW__COSMOS__CACHE_DIR=str(tmp_path / "cosmos"),
        AIRFLOW__COSMOS__ENABLE_TELEMETRY="False",
        # the profile mapping wants a password even with trust auth
        AIRFLOW_CONN_WAREHOUSE=json.dumps({"conn_type": "postgres", "host": p["host"], "port": int(p["port"]),
                                           "login": p["user"], "password": p["password"] or "postgres",
                                           "schema": p["dbname"]}),
        # a Slack nobody answers: the failure callback logs and moves on
        AIRFLOW_CONN_SLACK=json.dumps({"conn_type": "slack", "password": "xoxb-test",
                                       "extra": {"base_url": "http://127.0.0.1:9/api/"}}),
        STORELOOP_DBT_PROJECT_DIR=str(project),
        STORELOOP_DBT_EXECUTABLE=dbt_executable(),
        STORELOOP_DBT_DOCS_DIR=str(tmp_path / "docs"),
        TMPDIR=str(tmp_path),
        PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        PYTHONPATH=f"{REPO_ROOT / 'include'}:{REPO_ROOT / 'plugins'}",
    )
    return env


@pytest.mark.timeout(900)
def test_a_planted_duplicate_order_fails_the_dag_before_the_features_asset(
    warehouse: Warehouse,
    tmp_path: Path,
) -> None:
    seed_store(warehouse.dsn_params, extra_rows=planted_duplicate_in_a_load())
    # The DAG renders from <project>/target/manifest.json: build it for a copy of the project, as `make setup` does.
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    env = airflow_env(tmp_path, warehouse, project)
    parsed = subprocess.run([dbt_executable(), "parse", "--project-dir", str(project), "--profiles-dir", str(project),
                             "--quiet"], env={**env, **warehouse.dbt_env()}, capture_output=True, text=True,
                            cwd=project, timeout=180)
    assert parsed.returncode == 0, parsed.stdout[-3000:] + parsed.stderr[-2000:]
    airflow = str(Path(sys.executable).with_name("airflow"))
    migrated = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert migrated.returncode == 0, migrated.stdout[-2000:] + migrated.stderr[-3000:]

    result = subprocess.run([sys.executable, "-c", PROBE, str(REPO_ROOT / "dags" / "shopify_features.py")], env=env,
                            capture_output=True, text=True, timeout=840, cwd=REPO_ROOT)

    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("PROBE")), None)
    assert line, f"dag.test() did not finish:\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
    outcome = json.loads(line[len("PROBE"):])
    states = outcome["states"]
    assert outcome["run_state"] == "failed", outcome
    # the duplicate is caught by the test task right after the staging model...
    assert states["dbt.stg_shopify__orders.test"] == "failed", states
    # ...while unrelated branches did run (the failure is the gate, not a broken environment)
    assert states["dbt.stg_shopify__products.run"] == "success", states
    assert states["dbt.stg_shopify__orders.run"] == "success", states
    # and nothing downstream of it ran: no order-line fact, no features, no docs, no Asset for recommender_train
    for task_id in ("dbt.fct_order_lines.run", "dbt.customer_features.run", "generate_dbt_docs",
                    "publish_features_asset"):
        assert states.get(task_id) == "upstream_failed", (task_id, states.get(task_id))
