"""Load a batch into raw_shopify.* with COPY: one transaction per batch, idempotent per (run, source).

A batch is one file of one source (a bulk-query JSONL, or a CSV export). A rerun of the same run deletes what that run
loaded from that source and loads again; a crash leaves nothing half-loaded (the transaction rolls back), and the
batch's bookkeeping row (`_ingest_batches`, which the watermark is derived from) commits with the rows or not at all.
Every line is either loaded or quarantined with its reason: lines_in == rows_loaded + rows_quarantined, always.

Deleted products: incremental pulls never see a deletion, but a FULL pull of products returns every product the shop
has, so the ones an earlier API load had and this pull did not are gone from Shopify. `record_product_deletions`
writes them to `raw_shopify.product_deletions` in the batch's transaction (a rerun of the run replaces its rows);
dbt's int_shopify__deleted_products reads them (a product a later load brings again is no longer deleted).
"""

from __future__ import annotations

import io
import json
import logging
import queue
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from storeloop.shopify.bulk_jsonl import parse_line
from storeloop.shopify.records import RESOURCE_TABLES, MalformedRecord
from storeloop.warehouse import ingest_state
from storeloop.warehouse.db import copy_text_line
from storeloop.warehouse.ingest_state import IngestWindow
from storeloop.warehouse.migrations import migrate
from storeloop.warehouse.raw_schema import PRODUCT_DELETIONS_TABLE, QUARANTINE_TABLE, RAW_TABLES

log = logging.getLogger(__name__)

API_SOURCE = "api_bulk"

# The table whose updated_at is a resource's watermark.
WATERMARK_TABLE = {"products": "products", "customers": "customers", "orders": "orders"}


@dataclass
class LoadReport:
    resource: str
    source_file: str
    lines_in: int = 0
    lines_loaded: int = 0  # input lines (CSV records) that reached a raw table, as a row or inside another's record
    rows_loaded: dict[str, int] = field(default_factory=dict)
    rows_quarantined: int = 0
    max_updated_at: str | None = None
    skipped: str | None = None  # why nothing was loaded (e.g. a file another run already ingested)
    # products found deleted by this batch (a full API pull of products), None when the batch could not tell
    products_deleted: int | None = None

    @property
    def total_loaded(self) -> int:
        return sum(self.rows_loaded.values())

    def check_balanced(self) -> None:
        """Every input line (or CSV record) was loaded or quarantined, none lost and none counted twice."""
        if self.lines_in != self.lines_loaded + self.rows_quarantined:
            raise AssertionError(f"{self.source_file}: {self.lines_in} lines in but {self.lines_loaded} loaded + "
                                 f"{self.rows_quarantined} quarantined")


class _CopyStream:
    """COPYs chunks of one batch on a worker thread, so Postgres ingests chunk k while Python parses chunk k+1.

    Everything runs in the connection's one open transaction: the worker first deletes what this (run, source) loaded
    before, then COPYs each chunk it is handed. The caller commits or rolls back only after `finish`/`stop`."""

    def __init__(self, conn, tables: tuple[str, ...], run_id: str, source: str):
        self._conn, self._tables, self._run_id, self._source = conn, tables, run_id, source
        self._queue: queue.Queue = queue.Queue(maxsize=4)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="storeloop-copy", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        try:
            with self._conn.cursor() as cur:
                for table in self._tables:
                    cur.execute(f"delete from {RAW_TABLES[table].qualified_name} where _run_id = %s and _source = %s",
                                (self._run_id, self._source))
                while (item := self._queue.get()) is not None:
                    table, data = item
                    raw = RAW_TABLES[table]
                    columns = ", ".join([*raw.typed_column_names, "_run_id", "_source", "_record"])
                    cur.copy_expert(f"copy {raw.qualified_name} ({columns}) from stdin with (format text)",
                                    io.StringIO(data), size=1 << 20)
        except BaseException as exc:  # handed to the caller's thread, which rolls back
            self._error = exc
            while self._queue.get() is not None:  # drain so a blocked put() returns
                pass

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def put(self, table: str, data: str) -> None:
        self._raise_if_failed()
        self._queue.put((table, data))

    def finish(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._raise_if_failed()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


class RawBatch:
    """Rows of one (run, source) batch, COPYed in chunks as they come, inside one transaction that `commit` ends.

    Nothing is visible to anyone else until `commit`; `abort` (or any exception in `commit`) rolls everything back."""

    def __init__(self, conn, *, resource: str, tables: Iterable[str], run_id: str, source: str, source_file: str,
                 chunk_bytes: int = 8 << 20):
        self.conn = conn
        self.resource, self.run_id, self.source, self.source_file = resource, run_id, source, source_file
        self.tables = tuple(tables)
        self._chunk_bytes = chunk_bytes
        self._pending: dict[str, list[str]] = {t: [] for t in self.tables}
        self._pending_bytes = dict.fromkeys(self.tables, 0)
        self._stream: _CopyStream | None = None
        self.counts = dict.fromkeys(self.tables, 0)
        self.quarantined: list[tuple] = []
        self.products_deleted: int | None = None

    def add(self, table: str, row: tuple, record: dict, record_json: str | None = None) -> None:
        """`record_json`: the record's JSON text when the caller has it already (a JSONL line, kept as it came)."""
        if record_json is None:
            record_json = json.dumps(record, separators=(",", ":"), default=str)
        line = copy_text_line((*row, self.run_id, self.source, record_json))
        self._pending[table].append(line)
        self._pending_bytes[table] += len(line)
        self.counts[table] += 1
        if self._pending_bytes[table] >= self._chunk_bytes:
            self._flush(table)

    def _flush(self, table: str) -> None:
        if self._stream is None:
            self._stream = _CopyStream(self.conn, self.tables, self.run_id, self.source)
        if self._pending[table]:
            self._stream.put(table, "".join(self._pending[table]))
            self._pending[table], self._pending_bytes[table] = [], 0

    def quarantine(self, line_no: int, reason: str, raw_line: str) -> None:
        self.quarantined.append((self.run_id, self.source_file, line_no, self.resource, reason, raw_line[:100_000]))

    def commit(self, *, window: IngestWindow, lines_in: int, source_sha256: str | None = None) -> str | None:
        """Finish the COPYs, record the batch and commit; returns the batch's newest updated_at."""
        max_updated_at = None
        conn = self.conn
        try:
            for table in self.tables:
                self._flush(table)
            self._stream.finish()
            with conn.cursor() as cur:
                cur.execute(f"delete from {QUARANTINE_TABLE} where run_id = %s and source_file = %s",
                            (self.run_id, self.source_file))
                if self.quarantined:
                    cur.executemany(
                        f"insert into {QUARANTINE_TABLE} (run_id, source_file, line_no, resource, reason, raw_line) "
                        "values (%s, %s, %s, %s, %s, %s)",
                        self.quarantined,
                    )
                if self.resource == "products" and self.source == API_SOURCE:
                    self.products_deleted = record_product_deletions(
                        cur, run_id=self.run_id, source=self.source, full_pull=window.mode == "full",
                        products_loaded=self.counts.get("products", 0), quarantined=self.quarantined)
                mark_table = WATERMARK_TABLE.get(self.resource)
                if mark_table in self.tables:
                    cur.execute(f"select max(updated_at) from {RAW_TABLES[mark_table].qualified_name} "
                                "where _run_id = %s and _source = %s", (self.run_id, self.source))
                    max_updated_at = cur.fetchone()[0]
                ingest_state.record_batch(
                    cur, run_id=self.run_id, resource=self.resource, source=self.source, window=window,
                    max_updated_at=max_updated_at, source_file=self.source_file, source_sha256=source_sha256,
                    lines_in=lines_in, rows_loaded=self.counts, rows_quarantined=len(self.quarantined))
            conn.commit()
        except BaseException:  # an interrupted load must leave nothing behind
            self.abort()
            raise
        for row in self.quarantined[:5]:
            log.warning("quarantined %s line %s: %s", row[1], row[2], row[4])
        return max_updated_at.isoformat() if max_updated_at is not None else None

    def abort(self) -> None:
        if self._stream is not None:
            self._stream.stop()
        self.conn.rollback()


def load_bulk_jsonl(conn, path: Path, *, resource: str, run_id: str, source: str = API_SOURCE,
                    source_name: str | None = None, lines: Iterable[str] | None = None,
                    window: IngestWindow | None = None, progress_every: int = 100_000,
                    chunk_bytes: int = 8 << 20) -> LoadReport:
    """Load one resource's JSONL into its raw tables in one transaction. `conn` is a psycopg2 connection."""
    report = LoadReport(resource, source_name or str(path))
    migrate(conn)
    batch = RawBatch(conn, resource=resource, tables=RESOURCE_TABLES[resource], run_id=run_id, source=source,
                     source_file=report.source_file, chunk_bytes=chunk_bytes)
    source_iter = lines if lines is not None else open(path, encoding="utf-8", errors="strict")
    try:
        for line_no, line in enumerate(_decoded(source_iter), start=1):
            if not line.strip():
                continue  # a trailing newline is not a record
            report.lines_in += 1
            try:
                table, row, record = parse_line(line, batch.tables)
            except MalformedRecord as exc:
                batch.quarantine(line_no, str(exc), line)
                continue
            batch.add(table, row, record, record_json=line.rstrip("\r\n"))
            report.lines_loaded += 1
            if progress_every and report.lines_in % progress_every == 0:
                log.info("%s: %d lines read", report.source_file, report.lines_in)
    except BaseException:
        batch.abort()
        raise
    finally:
        if lines is None:
            source_iter.close()
    report.max_updated_at = batch.commit(window=window or IngestWindow("full"), lines_in=report.lines_in)
    report.rows_loaded = dict(batch.counts)
    report.rows_quarantined = len(batch.quarantined)
    report.products_deleted = batch.products_deleted
    report.check_balanced()
    return report


def record_product_deletions(cur, *, run_id: str, source: str, full_pull: bool, products_loaded: int,
                             quarantined: list[tuple]) -> int | None:
    """Record, inside the load's transaction, the products this pull shows deleted; returns how many (None when the
    pull cannot tell). Call after this (run, source)'s product rows are COPYed, before the commit.

    Only a full pull can tell: it returns every product, so an id an earlier load of `source` had (a row of another
    run) that this pull neither loaded nor quarantined is deleted in Shopify. An incremental or backfill pull asks
    only for recently updated products and tells nothing. Either way the run's earlier rows are replaced first, so a
    rerun never duplicates them. A full pull tells nothing either when it returned no product at all (an empty
    answer is far likelier a broken pull than a shop that deleted its whole catalogue) or when a quarantined line's
    product cannot be told (not JSON, no id): that product was returned, but which one is unknown."""
    cur.execute(f"delete from {PRODUCT_DELETIONS_TABLE} where _run_id = %s and _source = %s", (run_id, source))
    if not full_pull:
        return None
    if products_loaded == 0:
        log.warning("a full pull of products returned no product: deleted products not recorded (a shop without "
                    "any product is likelier a broken pull)")
        return None
    returned_elsewhere = _quarantined_product_ids(quarantined)
    if returned_elsewhere is None:
        log.warning("a quarantined line of this full pull of products has no readable id: deleted products not "
                    "recorded this time (see raw_shopify._quarantine where run_id = %r)", run_id)
        return None
    products = RAW_TABLES["products"].qualified_name
    cur.execute(
        f"""
        insert into {PRODUCT_DELETIONS_TABLE} (id, last_loaded_at, last_run_id, _run_id, _source)
        select distinct on (earlier.id) earlier.id, earlier._loaded_at, earlier._run_id, %(run)s, %(source)s
        from {products} as earlier
        where earlier._source = %(source)s
            and earlier._run_id <> %(run)s
            and not exists (
                select 1 from {products} as now
                where now.id = earlier.id and now._run_id = %(run)s and now._source = %(source)s
            )
            and not (earlier.id = any(%(quarantined)s))
        order by earlier.id, earlier._loaded_at desc
        """,
        {"run": run_id, "source": source, "quarantined": sorted(returned_elsewhere)},
    )
    deleted = cur.rowcount
    if deleted:
        log.info("%d products an earlier load had are gone from Shopify: recorded in %s (run %s)", deleted,
                 PRODUCT_DELETIONS_TABLE, run_id)
    return deleted


def _quarantined_product_ids(quarantined: list[tuple]) -> set[str] | None:
    """The product GIDs of a batch's quarantined lines (they were returned, only not loadable); None when a line's
    record cannot be told (not JSON, or without a string id)."""
    ids: set[str] = set()
    for row in quarantined:
        try:
            record = json.loads(row[5])
        except ValueError:
            return None
        gid = record.get("id") if isinstance(record, dict) else None
        if not isinstance(gid, str):
            return None
        if gid.startswith("gid://shopify/Product/"):
            ids.add(gid)
    return ids


def _decoded(lines: Iterable) -> Iterable[str]:
    for line in lines:
        yield line.decode("utf-8") if isinstance(line, bytes) else line
