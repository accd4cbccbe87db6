"""The DAG tests' own Airflow metadata database (see tests/support/airflow_runs.py)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from devstack import postgres
from devstack.settings import ROOT, load_settings, with_database


@pytest.fixture(scope="session")
def dag_test_env(pg_server_url) -> Iterator[dict[str, str]]:
    """The environment for `airflow dags test` (the stack's settings, as `make setup` wrote them) with the metadata
    database replaced by a fresh one of the tests' (migrated once per session, dropped afterwards). Tests add their
    warehouse, landing and connections on top."""
    name = f"{load_settings().db_name('airflow')}_dagtests"
    postgres.drop_database(pg_server_url, name)
    postgres.ensure_database(pg_server_url, name)
    env = {**os.environ, **load_settings().process_env(),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": with_database(pg_server_url, name).replace(
               "postgresql://", "postgresql+psycopg2://", 1)}
    result = subprocess.run([str(ROOT / ".venv/bin/airflow"), "db", "migrate"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"airflow db migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    yield env
    postgres.drop_database(pg_server_url, name)
