"""shopify_ingest task bodies: bulk query (incremental by updated_at watermark) → landing zone → raw_shopify, and CSV
exports from <landing>/exports/ → landing partition → raw_shopify. One transaction per batch."""

from __future__ import annotations

import logging
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from storeloop.orchestration import connections
from storeloop.orchestration.landing import export_files, fetch_export, land_export, land_file
from storeloop.shopify.bulk import run_bulk_query
from storeloop.shopify.client import ShopifyClient
from storeloop.shopify.csv_exports import export_kind
from storeloop.shopify.documents import load_document, with_search_query
from storeloop.warehouse import ingest_state
from storeloop.warehouse.export_loader import load_csv_export
from storeloop.warehouse.migrations import migrate
from storeloop.warehouse.raw_loader import API_SOURCE, LoadReport, load_bulk_jsonl

log = logging.getLogger(__name__)

RESOURCES = ("products", "customers", "orders")
DEFAULT_OVERLAP_MINUTES = 30


def overlap() -> timedelta:
    """How far before the watermark an incremental pull starts (records committed late are not missed)."""
    raw = os.environ.get("STORELOOP_INGEST_OVERLAP_MINUTES", str(DEFAULT_OVERLAP_MINUTES))
    try:
        minutes = float(raw)
    except ValueError:
        raise ValueError(f"STORELOOP_INGEST_OVERLAP_MINUTES={raw!r} is not a number of minutes") from None
    if minutes < 0:
        raise ValueError(f"STORELOOP_INGEST_OVERLAP_MINUTES={raw!r} must be >= 0")
    return timedelta(minutes=minutes)


SOURCES = ("api", "exports")


def enabled_sources() -> tuple[str, ...]:
    """STORELOOP_INGEST_SOURCES: which inputs this deployment ingests (default both; `exports` alone for a merchant
    who only has the CSV exports, with no Admin API token)."""
    raw = os.environ.get("STORELOOP_INGEST_SOURCES", "api,exports")
    chosen = tuple(s.strip() for s in raw.split(",") if s.strip())
    unknown = [s for s in chosen if s not in SOURCES]
    if unknown or not chosen:
        raise ValueError(f"STORELOOP_INGEST_SOURCES={raw!r}: use a comma-separated subset of {', '.join(SOURCES)}")
    return chosen


def requested_bounds(params: dict, *, run_type: str, interval_start=None, interval_end=None) -> tuple:
    """(updated_from, updated_to) for a run: the params when given; for a backfill run without them, the run's data
    interval (one day per scheduled slot); else (None, None), i.e. incremental from the watermark."""
    start, end = params.get("updated_from"), params.get("updated_to")
    if start or end:
        return parse_bound(start, "updated_from"), parse_bound(end, "updated_to")
    if str(run_type).lower().endswith("backfill") and interval_start is not None and interval_end is not None:
        return parse_bound(interval_start, "data_interval_start"), parse_bound(interval_end, "data_interval_end")
    return None, None


def parse_bound(value, name: str) -> datetime | None:
    """A DAG param bound (ISO 8601 date or timestamp; UTC when no offset is given) → aware datetime, or None."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        ts = value
    else:
        try:
            ts = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"param {name}={value!r} is not an ISO 8601 date or timestamp "
                             "(e.g. 2026-01-31 or 2026-01-31T00:00:00Z)") from None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _report_dict(report: LoadReport, **extra) -> dict:
    return {
        "resource": report.resource,
        "source_file": report.source_file,
        "lines_in": report.lines_in,
        "rows_loaded": report.rows_loaded,
        "rows_quarantined": report.rows_quarantined,
        "max_updated_at": report.max_updated_at,
        **extra,
    }


def extract_and_load(resource: str, run_id: str, *, full_refresh: bool = False, updated_from=None,
                     updated_to=None) -> dict:
    if resource not in RESOURCES:
        raise ValueError(f"unknown resource {resource!r}; expected one of {RESOURCES}")
    warehouse = connections.warehouse()
    conn = warehouse.connect()
    try:
        migrate(conn)
        with conn.cursor() as cur:
            window = ingest_state.plan_window(
                cur, run_id=run_id, resource=resource, source=API_SOURCE, overlap=overlap(),
                full_refresh=bool(full_refresh), updated_from=parse_bound(updated_from, "updated_from"),
                updated_to=parse_bound(updated_to, "updated_to"))
        conn.rollback()
        log.info("%s: %s pull (%s); Shopify search: %s", resource, window.mode, window.reason,
                 window.search_query() or "none (every record)")
        client = ShopifyClient(connections.shopify())
        document = with_search_query(load_document(f"bulk_{resource}"), window.search_query())
        with tempfile.TemporaryDirectory(prefix=f"storeloop-{resource}-") as tmp:
            local = Path(tmp) / f"{resource}.jsonl"
            log.info("running the %s bulk query against %s", resource, client.config.base_url)
            result = run_bulk_query(client, document, local)
            log.info("bulk operation %s completed: %d objects, %d bytes", result.operation_id, result.object_count,
                     local.stat().st_size)
            landed = land_file(local, resource, run_id, f"{resource}.jsonl")
            log.info("landed %s", landed)
            report = load_bulk_jsonl(conn, local, resource=resource, run_id=run_id, source_name=str(landed),
                                     window=window)
    finally:
        conn.close()
    log.info("%s: %d lines in, loaded %s, quarantined %d; newest updated_at %s", resource, report.lines_in,
             report.rows_loaded, report.rows_quarantined, report.max_updated_at)
    if report.rows_quarantined:
        log.warning("%d %s lines quarantined: see raw_shopify._quarantine where run_id = %r",
                    report.rows_quarantined, resource, run_id)
    return _report_dict(report, bulk_operation_id=result.operation_id, landed=str(landed), window=window.as_dict())


def ingest_exports(run_id: str) -> list[dict]:
    """Ingest every Shopify CSV export in <landing>/exports/ that no other run has ingested (by content hash)."""
    files = export_files()
    reports: list[dict] = []
    unknown = [p.name for p in files if export_kind(p.name) is None]
    if unknown:
        log.warning("ignoring files in the exports folder that are not Shopify exports by name: %s", unknown)
    files = [p for p in files if export_kind(p.name) is not None]
    if not files:
        log.info("no CSV exports waiting in the exports folder")
        return reports
    conn = connections.warehouse().connect()
    try:
        migrate(conn)
        with tempfile.TemporaryDirectory(prefix="storeloop-exports-") as tmp:
            for path in files:
                local, sha256 = fetch_export(path, Path(tmp))
                with conn.cursor() as cur:
                    done_by = ingest_state.ingested_by_other_run(cur, sha256, run_id)
                conn.rollback()
                if done_by:
                    log.info("%s: already ingested by run %s (same content); skipped", path.name, done_by)
                    continue
                landed = land_export(local, run_id)
                report = load_csv_export(conn, local, run_id=run_id, source_name=str(landed), sha256=sha256)
                log.info("%s (%s export): %d records in, loaded %s, quarantined %d", path.name, report.resource,
                         report.lines_in, report.rows_loaded, report.rows_quarantined)
                if report.rows_quarantined:
                    log.warning("%d records of %s quarantined: see raw_shopify._quarantine where run_id = %r and "
                                "source_file = %r", report.rows_quarantined, path.name, run_id, str(landed))
                reports.append(_report_dict(report, landed=str(landed), sha256=sha256))
    finally:
        conn.close()
    return reports


def current_watermarks() -> dict[str, str | None]:
    """The committed updated_at watermark of each API resource (what the next incremental pull starts from)."""
    conn = connections.warehouse().connect()
    try:
        with conn.cursor() as cur:
            marks = {r: ingest_state.watermark(cur, r) for r in RESOURCES}
        conn.rollback()
    finally:
        conn.close()
    return {r: m.isoformat() if m else None for r, m in marks.items()}


def summarize(reports: list[dict], watermarks: dict[str, str | None] | None = None) -> dict:
    rows: dict[str, int] = {}
    for r in reports:
        for table, n in r["rows_loaded"].items():
            rows[table] = rows.get(table, 0) + n
    return {
        "rows_loaded": rows,
        "rows_quarantined": sum(r["rows_quarantined"] for r in reports),
        "batches": [{k: r[k] for k in ("resource", "source_file", "lines_in", "rows_quarantined")} for r in reports],
        "watermarks": watermarks or {},
        "modes": {r["resource"]: r["window"]["mode"] for r in reports if "window" in r},
    }
