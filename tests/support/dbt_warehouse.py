"""The warehouse side of the dbt integration tests: a test database's connection parameters (`Warehouse`), raw rows
written the way the loaders write them, and `dbt` run in a subprocess against the repository's dbt project with its
target/ and logs/ in a directory of the test's (so a developer's dbt_project/target is never touched).

The `warehouse` fixture that hands a test a fresh database is in tests/integration/conftest.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extensions
import psycopg2.extras
import pytest

from storeloop.warehouse.migrations import migrate
from storeloop.warehouse.raw_schema import RAW_TABLES

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DBT_TIMEOUT_S = 240

# (table, run_id, source, loaded_at, typed columns)
RawRow = tuple[str, str, str, datetime, dict[str, Any]]


@dataclass(frozen=True)
class Warehouse:
    dsn_params: dict[str, str]  # host, port, user, password, dbname of the test database

    def connect(self) -> psycopg2.extensions.connection:
        return psycopg2.connect(**self.dsn_params)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute(sql)
            rows = cur.fetchall()
        conn.close()
        return rows

    def dbt_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            STORELOOP_WAREHOUSE_HOST=self.dsn_params.get("host", "127.0.0.1"),
            STORELOOP_WAREHOUSE_PORT=str(self.dsn_params.get("port", "5432")),
            STORELOOP_WAREHOUSE_USER=self.dsn_params.get("user", "postgres"),
            STORELOOP_WAREHOUSE_PASSWORD=self.dsn_params.get("password", ""),
            STORELOOP_WAREHOUSE_DBNAME=self.dsn_params["dbname"],
            DBT_SEND_ANONYMOUS_USAGE_STATS="false",
            DBT_USE_COLORS="false",
        )
        return env


def create_raw_schema(conn: psycopg2.extensions.connection) -> None:
    conn.commit()
    migrate(conn)


def insert_raw_rows(conn: psycopg2.extensions.connection, rows: list[RawRow]) -> None:
    with conn.cursor() as cur:
        for table_name, run_id, source, loaded_at, typed in rows:
            table = RAW_TABLES[table_name]
            columns = [*table.typed_column_names, "_run_id", "_source", "_loaded_at", "_record"]
            # a column the row does not name is null, as in a row loaded before that column existed
            values = [typed.get(c) for c in table.typed_column_names]
            values += [
                run_id,
                source,
                loaded_at,
                psycopg2.extras.Json(typed, dumps=lambda o: json.dumps(o, default=str)),
            ]
            placeholders = ", ".join(["%s"] * len(columns))
            cur.execute(f"insert into {table.qualified_name} ({', '.join(columns)}) values ({placeholders})", values)
    conn.commit()


def dbt_executable() -> str:
    beside_python = Path(sys.executable).with_name("dbt")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("dbt")
    if found is None:
        pytest.fail("dbt is not installed in this environment: install requirements.txt into the venv")
    return found


def run_dbt(warehouse: Warehouse, work_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        dbt_executable(),
        *args,
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(work_dir / "target"),
        "--log-path", str(work_dir / "logs"),
    ]  # fmt: skip
    return subprocess.run(
        cmd, env=warehouse.dbt_env(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=DBT_TIMEOUT_S
    )


def run_results(work_dir: Path) -> dict[str, str]:
    """unique_id -> status of every node in the last dbt invocation."""
    data = json.loads((work_dir / "target" / "run_results.json").read_text())
    return {r["unique_id"]: r["status"] for r in data["results"]}


def warehouse_from_url(url: str) -> Warehouse:
    """The `Warehouse` of a database URL (e.g. the `warehouse_db` fixture's)."""
    params = psycopg2.extensions.parse_dsn(url)
    return Warehouse({"host": params.get("host", "127.0.0.1"), "port": params.get("port", "5432"),
                      "user": params.get("user", "postgres"), "password": params.get("password", ""),
                      "dbname": params["dbname"]})
