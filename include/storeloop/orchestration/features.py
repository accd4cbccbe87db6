"""shopify_features helpers: where the dbt project is, and `dbt docs generate` for the docs site."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from storeloop.orchestration import connections

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[3]


def dbt_project_dir() -> Path:
    return Path(os.environ.get("STORELOOP_DBT_PROJECT_DIR") or REPO_ROOT / "dbt_project")


def dbt_executable() -> str:
    exe = os.environ.get("STORELOOP_DBT_EXECUTABLE") or shutil.which("dbt")
    if not exe:
        raise RuntimeError("dbt is not installed where Airflow runs: install dbt-postgres or set STORELOOP_DBT_EXECUTABLE.")
    return exe


def generate_docs() -> str:
    """Run `dbt docs generate` against the warehouse and publish the static site to STORELOOP_DBT_DOCS_DIR."""
    project = dbt_project_dir()
    out_dir = Path(os.environ.get("STORELOOP_DBT_DOCS_DIR") or project / "target" / "docs_site")
    env = {**os.environ, **connections.warehouse().dbt_env()}
    with tempfile.TemporaryDirectory(prefix="storeloop-dbt-docs-") as target:
        result = subprocess.run(
            [dbt_executable(), "docs", "generate", "--project-dir", str(project), "--profiles-dir", str(project),
             "--target-path", target],
            env=env, capture_output=True, text=True, cwd=str(project),
        )
        log.info("%s", result.stdout[-4000:])
        if result.returncode != 0:
            raise RuntimeError(f"`dbt docs generate` failed:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}")
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in ("index.html", "manifest.json", "catalog.json"):
            shutil.copy2(Path(target) / name, out_dir / name)
    return str(out_dir)


def features_summary(run_id: str, docs_dir: str) -> dict:
    """The features run's summary (the features Asset's extra): where the docs are, and what fct_order_lines holds
    (`storeloop.warehouse.marts.order_line_accounting`), logged so a merchant sees how their lines resolved."""
    from storeloop.warehouse.marts import order_line_accounting

    conn = connections.warehouse().connect()
    try:
        accounting = order_line_accounting(conn)
    finally:
        conn.close()
    log.info("fct_order_lines: %d lines; products found by %s; %d lines without a customer (guest checkouts or "
             "orders exported without Email: they feed related products (co-purchase), not buy-again lists)",
             accounting["order_lines"], accounting["product_resolution"], accounting["anonymous_order_lines"])
    return {"run_id": run_id, "dbt_docs": docs_dir, **accounting}
