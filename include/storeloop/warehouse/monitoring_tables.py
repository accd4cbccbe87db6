"""Writes of the `monitoring.*` tables: one drift result per run in `monitoring.drift_reports` (migration 0003)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, Protocol

from storeloop.warehouse.db import Connection, connection
from storeloop.warehouse.migrations import migrate

TABLE = "monitoring.drift_reports"

UPSERT_SQL = f"""
insert into {TABLE} (run_id, dataset_drift, drifted_columns, drift_share, n_columns, column_results,
                     n_reference, n_current, model_version, html_path, json_path, created_at)
values (%s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s, now())
on conflict (run_id) do update set
    dataset_drift = excluded.dataset_drift, drifted_columns = excluded.drifted_columns,
    drift_share = excluded.drift_share, n_columns = excluded.n_columns, column_results = excluded.column_results,
    n_reference = excluded.n_reference, n_current = excluded.n_current, model_version = excluded.model_version,
    html_path = excluded.html_path, json_path = excluded.json_path, created_at = excluded.created_at
"""


class DriftResult(Protocol):
    """What is stored of a drift result: storeloop.monitoring.drift.DriftSummary has these fields (the warehouse
    does not import monitoring; monitoring imports no database code)."""

    dataset_drift: bool
    drifted_columns: int
    share: float
    columns: list[Any]  # dataclass instances, one per column (ColumnDrift), stored as JSON
    n_reference: int
    n_current: int
    html_path: str
    json_path: str


def write_drift_result(
    conn: Connection | str, summary: DriftResult, run_id: str, model_version: int | None = None
) -> None:
    """Insert or replace the row of `run_id` in `monitoring.drift_reports` (pending migrations applied first)."""
    if not run_id:
        raise ValueError("run_id is required: the drift result is stored once per run")
    columns_json = json.dumps([asdict(c) for c in summary.columns])
    values = (
        run_id,
        summary.dataset_drift,
        summary.drifted_columns,
        summary.share,
        len(summary.columns),
        columns_json,
        summary.n_reference,
        summary.n_current,
        model_version,
        summary.html_path,
        summary.json_path,
    )
    with connection(conn) as c:
        migrate(c)
        with c:
            with c.cursor() as cur:
                cur.execute(UPSERT_SQL, values)
