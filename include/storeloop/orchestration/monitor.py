"""recommender_monitor task bodies: Evidently drift report → reports store + monitoring.drift_reports → Slack."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
from pathlib import Path

from storeloop.orchestration import connections
from storeloop.orchestration.landing import run_partition

log = logging.getLogger(__name__)


def _publish_report(local_dir: Path, run_id: str) -> tuple[str, str]:
    """Copy the report files to STORELOOP_REPORTS_URL/drift/run=<id>/; returns (stored folder, browsable URL)."""
    from airflow.sdk import ObjectStoragePath

    base = os.environ.get("STORELOOP_REPORTS_URL")
    if not base:
        raise RuntimeError("STORELOOP_REPORTS_URL is not set: set it to file:///abs/path or s3://bucket/prefix.")
    part = f"drift/{run_partition(run_id)}"
    dest = ObjectStoragePath(base) / part
    dest.mkdir(parents=True, exist_ok=True)
    for f in local_dir.iterdir():
        with open(f, "rb") as src, (dest / f.name).open("wb") as out:
            shutil.copyfileobj(src, out)
    browse_base = os.environ.get("STORELOOP_REPORTS_BASE_URL")
    url = f"{browse_base.rstrip('/')}/{part}/drift_report.html" if browse_base else str(dest / "drift_report.html")
    return str(dest), url


def _champion_version() -> int | None:
    from mlflow.tracking import MlflowClient

    from storeloop.orchestration.mlflow_settings import model_name, tracking_uri

    try:
        return int(MlflowClient(tracking_uri()).get_model_version_by_alias(model_name(), "champion").version)
    except Exception as exc:  # monitoring still reports drift when no model is registered yet
        log.warning("no champion found: %s", exc)
        return None


def drift_report(run_id: str) -> dict:
    from storeloop.monitoring.alerts import render_drift_message
    from storeloop.monitoring.drift import build_drift_frames, run_drift_report
    from storeloop.warehouse.marts import load_order_lines, load_products
    from storeloop.warehouse.migrations import migrate
    from storeloop.warehouse.monitoring_tables import write_drift_result

    version = _champion_version()
    conn = connections.warehouse().connect()
    try:
        migrate(conn)  # before the reads open a transaction: the write below then finds its table
        order_lines, products = load_order_lines(conn), load_products(conn)
        reference, current = build_drift_frames(order_lines, products)
        log.info("drift: reference %d rows, current %d rows", len(reference), len(current))
        with tempfile.TemporaryDirectory(prefix="storeloop-drift-") as tmp:
            summary = run_drift_report(reference, current, tmp)
            stored, url = _publish_report(Path(tmp), run_id)
        summary = dataclasses.replace(summary, html_path=f"{stored}/drift_report.html",
                                      json_path=f"{stored}/drift_report.json")
        write_drift_result(conn, summary, run_id, model_version=version)
    finally:
        conn.close()
    log.info("dataset drift: %s (%d columns drifted: %s); report: %s", summary.dataset_drift,
             summary.drifted_columns, summary.drifted_column_names, url)
    return {"dataset_drift": bool(summary.dataset_drift), "drifted_columns": int(summary.drifted_columns),
            "drifted_column_names": summary.drifted_column_names, "share": float(summary.share),
            "report_url": url, "model_version": version,
            "slack_text": render_drift_message(summary, version, url)}


def post_summary(drift: dict) -> dict:
    client = connections.slack_client()
    channel = connections.slack_channel()
    resp = client.chat_postMessage(channel=channel, text=drift["slack_text"])
    log.info("posted the drift summary to %s (ts %s)", channel, resp.get("ts"))
    return {"channel": channel, "ts": resp.get("ts")}


def retrain_reason(drift: dict, champion_age_hours: float | None, cooldown_hours: float) -> str | None:
    """Why the monitor should trigger recommender_train now, or None.

    Drift triggers retraining, but not while the champion is younger than the cooldown: a model trained on the drifted
    data would otherwise be retrained again by the monitor run its own scores trigger, in a loop."""
    if not drift.get("dataset_drift"):
        return None
    if champion_age_hours is not None and champion_age_hours < cooldown_hours:
        log.info("drift detected, but the champion is %.1f h old (cooldown %.0f h): no retraining triggered",
                 champion_age_hours, cooldown_hours)
        return None
    columns = ", ".join(drift.get("drifted_column_names") or []) or "?"
    return (f"data drift: {drift.get('drifted_columns', 0)} feature columns drifted ({columns}); "
            f"report {drift.get('report_url')}")


def champion_age_hours() -> float | None:
    """Hours since the current champion version was registered (None without a champion)."""
    import time

    from mlflow.tracking import MlflowClient

    from storeloop.orchestration.mlflow_settings import model_name, tracking_uri

    try:
        version = MlflowClient(tracking_uri()).get_model_version_by_alias(model_name(), "champion")
    except Exception as exc:
        log.warning("no champion found: %s", exc)
        return None
    return (time.time() * 1000 - int(version.creation_timestamp)) / 3_600_000


def retrain_cooldown_hours() -> float:
    raw = os.environ.get("STORELOOP_RETRAIN_COOLDOWN_HOURS", "24")
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"STORELOOP_RETRAIN_COOLDOWN_HOURS={raw!r} is not a number of hours") from None
