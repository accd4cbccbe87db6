"""Builders for the exports folder tests: files a merchant drops into <landing>/exports/ (good, broken, empty), the
`slack` Airflow connection pointed at an in-process Slack sink, and what that sink received."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import requests

from support.fixture_files import shopify_export


def exports_folder(landing: Path) -> Path:
    folder = landing / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def drop_fixture(landing: Path, fixture: str, name: str) -> Path:
    """Copy tests/fixtures/shopify/<fixture> into <landing>/exports/<name>."""
    dest = exports_folder(landing) / name
    shutil.copy(shopify_export(fixture), dest)
    return dest


def drop_without_column(landing: Path, fixture: str, name: str, column: str) -> Path:
    """A real export with one column removed from the header and every record (e.g. products without `Handle`)."""
    with open(shopify_export(fixture), encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    drop = rows[0].index(column)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([r[:drop] + r[drop + 1:] for r in rows])
    dest = exports_folder(landing) / name
    dest.write_text(out.getvalue(), encoding="utf-8")
    return dest


def drop_bytes(landing: Path, name: str, data: bytes) -> Path:
    dest = exports_folder(landing) / name
    dest.write_bytes(data)
    return dest


def drop_empty(landing: Path, name: str) -> Path:
    return drop_bytes(landing, name, b"")


NOT_UTF8_CUSTOMERS = b"Customer ID,First Name,Email\n1,Ren\xe9e,renee@example.com\n"  # Latin-1, as Excel saves it


def slack_connection(base_url: str, token: str = "xoxb-rejected-exports-test") -> str:
    """AIRFLOW_CONN_SLACK for a Slack sink at `base_url` (as start_slack_sink returns it)."""
    return json.dumps({"conn_type": "slack", "password": token, "extra": {"base_url": base_url + "/api/"}})


def sink_messages(base_url: str) -> list[dict]:
    return requests.get(base_url + "/_sandbox/messages", timeout=10).json()


def task_context(run_id: str, dag_id: str = "shopify_ingest", task_id: str = "ingest_exports") -> dict:
    """The part of an Airflow task context the Slack callbacks read."""
    ti = SimpleNamespace(dag_id=dag_id, task_id=task_id, run_id=run_id)
    return {"task_instance": ti, "ti": ti, "run_id": run_id}
