"""shopify_ingest task bodies: bulk query (incremental by updated_at watermark) → landing zone → raw_shopify, and CSV
exports from <landing>/exports/ → landing partition → raw_shopify. One transaction per batch. An export that cannot be
ingested is set aside in <landing>/exports/rejected/ and the other files go on (`ingest_exports`)."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from storeloop.orchestration import connections
from storeloop.orchestration.callbacks import redact_urls
from storeloop.orchestration.landing import (
    export_files,
    fetch_export,
    land_export,
    land_file,
    reject_export,
    rejected_folder,
    rejection_notes,
)
from storeloop.shopify.bulk import run_bulk_query
from storeloop.shopify.client import ShopifyClient
from storeloop.shopify.csv_exports import ExportFileError, export_kind
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
    out = {
        "resource": report.resource,
        "source_file": report.source_file,
        "lines_in": report.lines_in,
        "rows_loaded": report.rows_loaded,
        "rows_quarantined": report.rows_quarantined,
        "max_updated_at": report.max_updated_at,
        **extra,
    }
    if report.products_deleted is not None:  # a full API pull of products: how many it found deleted in Shopify
        out["products_deleted"] = report.products_deleted
    return out


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
    if report.products_deleted is not None:
        log.info("products: %d deleted in Shopify since an earlier load (raw_shopify.product_deletions)",
                 report.products_deleted)
    elif resource == "products" and window.mode != "full":
        log.info("products: a %s pull cannot see deletions (only a full pull can)", window.mode)
    if report.rows_quarantined:
        log.warning("%d %s lines quarantined: see raw_shopify._quarantine where run_id = %r",
                    report.rows_quarantined, resource, run_id)
    return _report_dict(report, bulk_operation_id=result.operation_id, landed=str(landed), window=window.as_dict())


def ingest_exports(run_id: str, *, on_reject: Callable[[dict], object] | None = None) -> list[dict]:
    """Ingest every Shopify CSV export in <landing>/exports/ that no other run has ingested (by content hash).

    Returns one report per loaded file and, after them, one rejection (`is_rejection`) per file this run set aside. A
    file that is not the export it claims to be (ExportFileError: empty, not UTF-8, corrupt gzip, missing required
    columns, ...) loads nothing (its batch rolls back), is moved to <landing>/exports/rejected/<name> with
    <name>.reason.txt beside it, and the run goes on with the other files; `on_reject(rejection)` is called right after
    the move (the DAG alerts Slack there: once, as the file is gone from exports/ for the next night and for a retry).
    Every other error fails the task as before: a database error (connection, permission, a value the column type
    cannot hold), the landing storage failing, a bug. Those are not the file's fault, and setting files aside because
    of them would empty exports/ into rejected/. A file gone between the listing and the download is skipped.
    A retry of the run reports again, from their notes and without calling on_reject, the files an earlier attempt of
    the same run rejected.
    """
    files = export_files()
    reports: list[dict] = []
    rejected: list[dict] = []
    unknown = [p.name for p in files if export_kind(p.name) is None]
    if unknown:
        log.warning("ignoring files in the exports folder that are not Shopify exports by name: %s", unknown)
    files = [p for p in files if export_kind(p.name) is not None]
    if not files:
        log.info("no CSV exports waiting in the exports folder")
        return _with_earlier_rejections(run_id, reports, rejected)
    conn = connections.warehouse().connect()
    try:
        migrate(conn)
        with tempfile.TemporaryDirectory(prefix="storeloop-exports-") as tmp:
            for path in files:
                try:
                    local, sha256 = fetch_export(path, Path(tmp))
                except FileNotFoundError:
                    log.warning("%s: gone from the exports folder before it could be read; skipped", path.name)
                    continue
                with conn.cursor() as cur:
                    done_by = ingest_state.ingested_by_other_run(cur, sha256, run_id)
                conn.rollback()
                if done_by:
                    log.info("%s: already ingested by run %s (same content); skipped", path.name, done_by)
                    continue
                landed = land_export(local, run_id)
                try:
                    report = load_csv_export(conn, local, run_id=run_id, source_name=str(landed), sha256=sha256)
                except ExportFileError as exc:  # load_csv_export rolled its batch back: nothing of it is committed
                    rejection = _reject(path, landed, _file_error(exc, local, path.name), run_id)
                    rejected.append(rejection)
                    if on_reject is not None:
                        on_reject(rejection)
                    continue
                log.info("%s (%s export): %d records in, loaded %s, quarantined %d", path.name, report.resource,
                         report.lines_in, report.rows_loaded, report.rows_quarantined)
                if report.rows_quarantined:
                    log.warning("%d records of %s quarantined: see raw_shopify._quarantine where run_id = %r and "
                                "source_file = %r", report.rows_quarantined, path.name, run_id, str(landed))
                reports.append(_report_dict(report, landed=str(landed), sha256=sha256))
    finally:
        conn.close()
    return _with_earlier_rejections(run_id, reports, rejected)


def is_rejection(entry: dict) -> bool:
    """An ingest_exports entry for a file set aside in <landing>/exports/rejected/ (not a LoadReport)."""
    return bool(entry.get("rejected"))


def _file_error(exc: ExportFileError, local: Path, name: str) -> str:
    """The error's message on one line, naming the file as the merchant dropped it (not the task's temporary copy)."""
    return " ".join(str(exc).replace(str(local), name).split())


def _note(name: str, *, run_id: str, when: str, error: str, moved_to: str) -> str:
    """<name>.reason.txt. `rejection_from_note` reads back the `key: value` lines."""
    return (f"Storeloop could not ingest this Shopify export: nothing of it was loaded, and it was moved out of "
            f"exports/ so that it does not stop the other files.\n\n"
            f"file: {name}\n"
            f"rejected at: {when}\n"
            f"run id: {run_id}\n"
            f"moved to: {moved_to}\n"
            f"error: {error}\n\n"
            f"What to do: fix the file (or download the export again from the Shopify admin) and drop the corrected "
            f"file into exports/ again under the same name, {name}: the next run ingests it. This copy and this note "
            f"can be deleted then; a new rejection of the same name replaces them.\n")


def _reject(path, landed, error: str, run_id: str) -> dict:
    error = redact_urls(error)  # the note, the summary (an Asset event's extra) and Slack all show it
    when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    moved_to = rejected_folder() / path.name
    _discard(landed)  # the run's partition holds what the run loaded, and this file loaded nothing
    reject_export(path, _note(path.name, run_id=run_id, when=when, error=error, moved_to=str(moved_to)))
    log.error("%s: rejected, nothing of it loaded; moved to %s (the reason is beside it). %s", path.name, moved_to,
              error)
    return {"rejected": True, "file": path.name, "resource": export_kind(path.name), "reason": error,
            "moved_to": str(moved_to), "rejected_at": when, "run_id": run_id}


def _discard(landed) -> None:
    try:
        landed.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not remove %s from the run's partition: %s", landed, exc)


def rejection_from_note(name: str, text: str) -> dict | None:
    """The rejection a <name>.reason.txt describes (None if it is not one of ours)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key in ("file", "rejected at", "run id", "moved to", "error"):
            fields.setdefault(key, value)
    if "run id" not in fields or "error" not in fields:
        return None
    file = fields.get("file", name)
    return {"rejected": True, "file": file, "resource": export_kind(file), "reason": fields["error"],
            "moved_to": fields.get("moved to", ""), "rejected_at": fields.get("rejected at"),
            "run_id": fields["run id"]}


def _with_earlier_rejections(run_id: str, reports: list[dict], rejected: list[dict]) -> list[dict]:
    """reports + rejected + what earlier attempts of this run rejected (a retry finds those files gone from exports/,
    but the run's summary must still name them) unless this attempt loaded or rejected a file of that name itself."""
    handled = {r["file"] for r in rejected} | {Path(r["source_file"]).name for r in reports}
    earlier = []
    for name, text in rejection_notes():
        entry = rejection_from_note(name, text)
        if entry and entry["run_id"] == run_id and entry["file"] not in handled:
            log.warning("%s: rejected by an earlier attempt of this run (already alerted): %s", entry["file"],
                        entry["reason"])
            earlier.append(entry)
    return reports + rejected + earlier


def require_something_ingested(reports: list[dict]) -> None:
    """Fail loudly when a run ingested nothing: the API pull is disabled and no export loaded (none was waiting, or
    every one was rejected: then the error names them and why)."""
    if any(not is_rejection(r) for r in reports):
        return
    if reports:
        listed = "; ".join(f"{r['file']}: {r['reason']}" for r in reports)
        raise RuntimeError(
            "Nothing was ingested: the API pull is disabled and every CSV export waiting was rejected, moved to "
            f"<landing>/exports/rejected/ with a .reason.txt beside it. {listed}. Fix each file and drop the corrected "
            "file into <landing>/exports/ again under the same name.")
    raise RuntimeError("Nothing was ingested: the API pull is disabled and no CSV exports were waiting. Set "
                       "STORELOOP_INGEST_SOURCES, or drop orders_export*.csv files into <landing>/exports/.")


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
    """The raw_shopify Asset event's extra: what the loaded batches hold, and the exports rejected (file, reason)."""
    rejected = [{"file": r["file"], "reason": r["reason"]} for r in reports if is_rejection(r)]
    reports = [r for r in reports if not is_rejection(r)]
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
        # products a full API pull found deleted in Shopify (absent: no full pull of products in this run)
        **({"products_deleted": sum(r["products_deleted"] for r in reports if "products_deleted" in r)}
           if any("products_deleted" in r for r in reports) else {}),
        "rejected": rejected,
    }
