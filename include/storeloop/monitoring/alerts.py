"""Telling people about drift: a Slack message, and a row per run in `monitoring.drift_reports`."""

from __future__ import annotations

import json
from dataclasses import asdict

from storeloop.monitoring.drift import ColumnDrift, DriftSummary
from storeloop.recsys.db import Connection, connection

TABLE = "monitoring.drift_reports"

CREATE_SQL = f"""
create schema if not exists monitoring;
create table if not exists {TABLE} (
    run_id text primary key,
    dataset_drift boolean not null,
    drifted_columns integer not null,
    drift_share double precision not null,
    n_columns integer not null,
    column_results jsonb not null,
    n_reference integer not null,
    n_current integer not null,
    model_version integer,
    html_path text,
    json_path text,
    created_at timestamptz not null default now()
);
"""

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


def _escape(text: str) -> str:
    """Slack mrkdwn control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _describe(column: ColumnDrift) -> str:
    if "p_value" in column.method:
        rule = f"p = {column.score:.3g} < {column.threshold:g}"
    else:
        rule = f"{column.score:.3g} ≥ {column.threshold:g}"
    return f"• `{_escape(column.column)}`: {_escape(column.method)} {rule}"


def render_drift_message(summary: DriftSummary, champion_version: int | str | None, report_url: str) -> str:
    """Slack mrkdwn: the verdict, what drifted, and what to do about it."""
    n_columns = len(summary.columns)
    drifted = [c for c in summary.columns if c.drifted]
    model = f"champion v{champion_version}" if champion_version is not None else "no champion yet"
    link = f"<{report_url}|drift report>" if report_url else "drift report"
    windows = f"{summary.n_current:,} recent order lines vs {summary.n_reference:,} reference lines"
    if summary.dataset_drift:
        head = (
            f":warning: *Storeloop: order data drifted* ({len(drifted)} of {n_columns} features, "
            f"{summary.share:.0%} ≥ {summary.drift_share_threshold:.0%}). Recommender {model}."
        )
        action = (
            f"*What to do:* open the {link}. If the shift is real (new products, price change, season), "
            "retrain: run `recommender_train` and check that the new champion beats the baseline. "
            "If it looks wrong, check the last `shopify_ingest` and the dbt tests of `shopify_features` first."
        )
    elif drifted:
        head = (
            f":large_yellow_circle: *Storeloop: some features drifted* ({len(drifted)} of {n_columns}, "
            f"{summary.share:.0%}, below the {summary.drift_share_threshold:.0%} alert level). Recommender {model}."
        )
        action = (
            f"*What to do:* nothing is triggered. Check in the {link} whether the change is expected "
            "(a price update, a promotion); if it persists, the next `recommender_train` run will learn it."
        )
    else:
        head = f":white_check_mark: *Storeloop: no drift* in {n_columns} features. Recommender {model}."
        action = f"Details in the {link}."
    lines = [head]
    lines.extend(_describe(c) for c in drifted)
    lines.append(f"_{windows}._")
    lines.append(action)
    return "\n".join(lines)


def write_drift_result(
    conn: Connection | str, summary: DriftSummary, run_id: str, model_version: int | None = None
) -> None:
    """Insert or replace the row of `run_id` in `monitoring.drift_reports` (table created if absent)."""
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
        with c:
            with c.cursor() as cur:
                cur.execute(CREATE_SQL)
                cur.execute(UPSERT_SQL, values)
