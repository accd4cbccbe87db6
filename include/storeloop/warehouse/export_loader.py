"""Load a Shopify admin CSV export into the same raw_shopify.* tables as the API pulls, with its source recorded.

One export file is one batch (`_source = 'csv_export:<file name>'`): one transaction, replaced by a rerun of the same
run. Every CSV record is loaded (as rows, or folded into its product's record for image-only product rows) or
quarantined with its reason; a file that is not the export it claims to be fails with ExportFileError. Times
without an offset are read in the shop's zone, STORELOOP_SHOP_TIMEZONE (an IANA name, default UTC).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from storeloop.shopify.csv_exports import ExportFileError, export_kind, read_export
from storeloop.shopify.records import RESOURCE_TABLES
from storeloop.warehouse.ingest_state import IngestWindow
from storeloop.warehouse.migrations import migrate
from storeloop.warehouse.raw_loader import LoadReport, RawBatch

log = logging.getLogger(__name__)


def export_source(path: Path | str) -> str:
    return f"csv_export:{Path(str(path)).name}"


def shop_timezone() -> ZoneInfo:
    """STORELOOP_SHOP_TIMEZONE as a zone (empty or unset: UTC); a name that is not an IANA zone is a ValueError."""
    name = os.environ.get("STORELOOP_SHOP_TIMEZONE", "").strip() or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"STORELOOP_SHOP_TIMEZONE={name!r} is not an IANA time zone name (e.g. Europe/Paris, "
                         "America/New_York, UTC)") from exc


def load_csv_export(conn, path: Path, *, run_id: str, source_name: str | None = None, sha256: str | None = None,
                    progress_every: int = 50_000, timezone: ZoneInfo | None = None) -> LoadReport:
    """Load one export file in one transaction; `conn` is a psycopg2 connection; `timezone` defaults to
    shop_timezone()."""
    if timezone is None:
        timezone = shop_timezone()
    kind = export_kind(path.name)
    if kind is None:
        raise ExportFileError(f"{path.name}: not a Shopify export name (expected orders_export*.csv, "
                              "products_export*.csv or customers_export*.csv)")
    report = LoadReport(kind, source_name or str(path))
    migrate(conn)
    batch = RawBatch(conn, resource=kind, tables=RESOURCE_TABLES[kind], run_id=run_id, source=export_source(path),
                     source_file=report.source_file)
    try:
        for record in read_export(path, kind, timezone=timezone):
            report.lines_in += 1
            if record.error:
                batch.quarantine(record.line_no, record.error, record.raw)
                continue
            for table, row, payload in record.rows:
                batch.add(table, row, payload)
            report.lines_loaded += 1
            if progress_every and report.lines_in % progress_every == 0:
                log.info("%s: %d records read", path.name, report.lines_in)
    except BaseException:
        batch.abort()
        raise
    report.max_updated_at = batch.commit(window=IngestWindow("export"), lines_in=report.lines_in,
                                         source_sha256=sha256)
    report.rows_loaded = dict(batch.counts)
    report.rows_quarantined = len(batch.quarantined)
    report.check_balanced()
    return report
