"""`make setup`: everything the stack needs before a service starts. Idempotent: a second run changes nothing."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

from devstack import postgres
from devstack.settings import ROOT, Settings, load_settings, redact_url, write_env_file

SITE_INDEX = """<!doctype html><meta charset="utf-8"><title>Storeloop</title>
<h1>Storeloop local site</h1>
<ul><li><a href="dbt/index.html">dbt docs</a> (written by the shopify_features DAG)</li>
<li><a href="reports/">monitoring reports</a> (written by the recommender_monitor DAG)</li></ul>
"""


def _step(msg: str) -> float:
    print(f"▸ {msg}", flush=True)
    return time.monotonic()


def _done(t0: float, msg: str = "") -> None:
    print(f"  ✓ {msg or 'done'} ({time.monotonic() - t0:.1f}s)", flush=True)


def resolve_postgres(settings: Settings) -> Settings:
    t0 = _step("PostgreSQL")
    url, how = postgres.resolve_server(settings, log=lambda m: print("  " + m, flush=True))
    postgres.wait_until_ready(url)
    if how != "configured":
        write_env_file(settings.state_dir / "resolved.env",
                       {"STORELOOP_DATABASE_URL": url, "STORELOOP_PG_RESOLVED_BY": how})
    settings = load_settings()
    where = {"configured": "from STORELOOP_DATABASE_URL in .env", "machine": "the server answering on 127.0.0.1:5432",
             "local": f"project cluster in {postgres.local_cluster_dir(settings)}"}[how]
    created = []
    for role in ("warehouse", "airflow", "mlflow"):
        if role == "warehouse" and not settings.warehouse_is_managed:
            continue
        if postgres.ensure_database(url, settings.db_name(role)):
            created.append(settings.db_name(role))
    _done(t0, f"{redact_url(url)} ({where})" + (f"; created databases {', '.join(created)}" if created else ""))
    return settings


def _stamp_ok(path: Path, key: str) -> bool:
    return path.exists() and path.read_text() == key


def migrate_airflow(settings: Settings, env: dict[str, str]) -> None:
    home = settings.airflow_home
    home.mkdir(parents=True, exist_ok=True)
    pw_file = Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    pw_file.write_text(json.dumps({"admin": settings["STORELOOP_AIRFLOW_ADMIN_PASSWORD"]}))
    pw_file.chmod(0o600)
    from importlib.metadata import version

    key = hashlib.sha256(f"{version('apache-airflow-core')}|{env['AIRFLOW__DATABASE__SQL_ALCHEMY_CONN']}".encode())
    stamp = settings.state_dir / "stamps" / "airflow-db"
    if _stamp_ok(stamp, key.hexdigest()):
        return
    t0 = _step("Airflow metadata database (airflow db migrate)")
    result = subprocess.run([str(ROOT / ".venv/bin/airflow"), "db", "migrate"], env={**os.environ, **env},
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"`airflow db migrate` failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(key.hexdigest())
    _done(t0)


def migrate_warehouse(settings: Settings) -> None:
    """The warehouse's tables outside dbt (raw_shopify.*, ml.*, monitoring.*): apply the pending versioned migrations
    (include/storeloop/warehouse/migrations/; a no-op when up to date). The writers apply them too, so this is what
    makes a fresh warehouse complete before the first run."""
    import psycopg2

    from storeloop.warehouse.migrations import migrate

    t0 = _step("Warehouse migrations")
    conn = psycopg2.connect(settings.warehouse_url, application_name="storeloop-setup")
    try:
        applied = migrate(conn)
    finally:
        conn.close()
    _done(t0, f"applied {', '.join(m.file_name for m in applied)}" if applied else "up to date")


def build_dbt_manifest(env: dict[str, str]) -> None:
    """Cosmos renders the dbt project from target/manifest.json: no dbt parse in the scheduler loop."""
    project = Path(env["STORELOOP_DBT_PROJECT_DIR"])
    if not (project / "dbt_project.yml").exists():
        print("  (no dbt project yet: skipping the manifest)")
        return
    t0 = _step("dbt manifest (dbt parse)")
    result = subprocess.run(
        [env["STORELOOP_DBT_EXECUTABLE"], "parse", "--project-dir", str(project), "--profiles-dir", str(project),
         "--quiet"],
        env={**os.environ, **env}, capture_output=True, text=True, cwd=str(project),
    )
    if result.returncode != 0:
        raise RuntimeError(f"`dbt parse` failed:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}")
    _done(t0, f"{project / 'target' / 'manifest.json'}")


def run_setup() -> Settings:
    settings = load_settings()
    for sub in ("tmp", "logs", "run", "site/reports", "site/dbt", "landing", "mlartifacts", "cosmos"):
        (settings.state_dir / sub).mkdir(parents=True, exist_ok=True)
    settings = resolve_postgres(settings)
    env = settings.process_env()
    (settings.site_dir / "index.html").write_text(SITE_INDEX)
    migrate_warehouse(settings)
    migrate_airflow(settings, env)
    build_dbt_manifest(env)
    return settings
