"""Load a bulk-query JSONL file into raw_shopify.* with COPY: one transaction per file, idempotent per run.

A rerun of the same run deletes what that run loaded into these tables and loads again; a crash leaves nothing
half-loaded (the transaction rolls back). Every line is either loaded or quarantined with its reason:
lines_in == rows_loaded + rows_quarantined, always.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from storeloop.warehouse.bulk_records import RESOURCE_TABLES, MalformedRecord, parse_line
from storeloop.warehouse.raw_schema import QUARANTINE_TABLE, RAW_TABLES, create_raw_schema_sql

log = logging.getLogger(__name__)


@dataclass
class LoadReport:
    resource: str
    source_file: str
    lines_in: int = 0
    rows_loaded: dict[str, int] = field(default_factory=dict)
    rows_quarantined: int = 0

    @property
    def total_loaded(self) -> int:
        return sum(self.rows_loaded.values())

    def check_balanced(self) -> None:
        if self.lines_in != self.total_loaded + self.rows_quarantined:
            raise AssertionError(f"{self.source_file}: {self.lines_in} lines in but {self.total_loaded} loaded + "
                                 f"{self.rows_quarantined} quarantined")


def ensure_raw_schema(conn) -> None:
    with conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext('storeloop.raw_schema'))")
        cur.execute(create_raw_schema_sql())
    conn.commit()


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text_line(values: tuple) -> str:
    """One line of COPY's text format: tab-separated, \\N for NULL, backslash escapes (exact for any string)."""
    return "\t".join("\\N" if v is None else str(v).translate(_ESCAPES) for v in values) + "\n"


def load_bulk_jsonl(conn, path: Path, *, resource: str, run_id: str, source: str = "api_bulk",
                    source_name: str | None = None, lines: Iterable[str] | None = None,
                    progress_every: int = 100_000) -> LoadReport:
    """Load one resource's JSONL into its raw tables in one transaction. `conn` is a psycopg2 connection."""
    tables = RESOURCE_TABLES[resource]
    report = LoadReport(resource, source_name or str(path))
    buffers = {t: tempfile.SpooledTemporaryFile(max_size=64 << 20, mode="w+", newline="") for t in tables}
    quarantine: list[tuple] = []
    counts = dict.fromkeys(tables, 0)
    ensure_raw_schema(conn)
    source_iter = lines if lines is not None else open(path, encoding="utf-8", errors="strict")
    try:
        for line_no, line in enumerate(_decoded(source_iter), start=1):
            if not line.strip():
                continue  # a trailing newline is not a record
            report.lines_in += 1
            try:
                table, row, record = parse_line(line, tables)
            except MalformedRecord as exc:
                quarantine.append((run_id, report.source_file, line_no, resource, str(exc), line[:100_000]))
                continue
            buffers[table].write(copy_text_line((*row, run_id, source, json.dumps(record, separators=(",", ":")))))
            counts[table] += 1
            if progress_every and report.lines_in % progress_every == 0:
                log.info("%s: %d lines read", report.source_file, report.lines_in)
    finally:
        if lines is None:
            source_iter.close()
    try:
        with conn.cursor() as cur:
            for table in tables:
                raw = RAW_TABLES[table]
                cur.execute(f"delete from {raw.qualified_name} where _run_id = %s", (run_id,))
                buffers[table].seek(0)
                columns = ", ".join([*raw.typed_column_names, "_run_id", "_source", "_record"])
                cur.copy_expert(f"copy {raw.qualified_name} ({columns}) from stdin with (format text)", buffers[table])
            cur.execute(f"delete from {QUARANTINE_TABLE} where run_id = %s and resource = %s", (run_id, resource))
            if quarantine:
                cur.executemany(
                    f"insert into {QUARANTINE_TABLE} (run_id, source_file, line_no, resource, reason, raw_line) "
                    "values (%s, %s, %s, %s, %s, %s)",
                    quarantine,
                )
        conn.commit()
    except BaseException:  # an interrupted load must leave nothing behind
        conn.rollback()
        raise
    finally:
        for b in buffers.values():
            b.close()
    report.rows_loaded = counts
    report.rows_quarantined = len(quarantine)
    report.check_balanced()
    for row in quarantine[:5]:
        log.warning("quarantined %s line %s: %s", row[1], row[2], row[4])
    return report


def _decoded(lines: Iterable) -> Iterable[str]:
    for line in lines:
        yield line.decode("utf-8") if isinstance(line, bytes) else line
