"""Load a Shopify admin CSV export into the same raw_shopify.* tables as the API pulls, with its source recorded.

One export file is one batch (`_source = 'csv_export:<file name>'`): one transaction, replaced by a rerun of the same
run. Every CSV record is loaded (as rows, or folded into its product's record for image-only product rows) or
quarantined with its reason; a file that is not the export it claims to be fails with ExportFileError.
"""

from __future__ import annotations

import logging
from pathlib import Path

from storeloop.shopify.csv_exports import ExportFileError, export_kind, read_export
from storeloop.shopify.records import RESOURCE_TABLES
from storeloop.warehouse.ingest_state import IngestWindow
from storeloop.warehouse.migrations import migrate
from storeloop.warehouse.raw_loader import LoadReport, RawBatch

log = logging.getLogger(__name__)


def export_source(path: Path | str) -> str:
    return f"csv_export:{Path(str(path)).name}"


def load_csv_export(conn, path: Path, *, run_id: str, source_name: str | None = None,
                    sha256: str | None = None, progress_every: int = 50_000) -> LoadReport:
    """Load one export file in one transaction; `conn` is a psycopg2 connection."""
    kind = export_kind(path.name)
    if kind is None:
        raise ExportFileError(f"{path.name}: not a Shopify export name (expected orders_export*.csv, "
                              "products_export*.csv or customers_export*.csv)")
    report = LoadReport(kind, source_name or str(path))
    migrate(conn)
    batch = RawBatch(conn, resource=kind, tables=RESOURCE_TABLES[kind], run_id=run_id, source=export_source(path),
                     source_file=report.source_file)
    try:
        for record in read_export(path, kind):
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
