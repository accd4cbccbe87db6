"""What each ingest batch loaded, and the per-resource `updated_at` watermark derived from it.

`raw_shopify._ingest_batches` has one row per (run, resource, source), written in the same transaction as the rows it
describes: the watermark only moves when a load commits. The watermark of a resource is the newest `updated_at` any
committed incremental or full batch saw; backfills (a bounded window of the past) never move it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from storeloop.warehouse.raw_schema import BATCHES_TABLE

MODES = ("full", "incremental", "backfill", "export")


@dataclass(frozen=True)
class IngestWindow:
    """Which records a batch asks for: `updated_at` in [updated_from, updated_to); None means unbounded."""

    mode: str
    updated_from: datetime | None = None
    updated_to: datetime | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown ingest mode {self.mode!r}: use one of {MODES}")
        if self.updated_from and self.updated_to and self.updated_from >= self.updated_to:
            raise ValueError(f"empty ingest window: updated_from {self.updated_from.isoformat()} is not before "
                             f"updated_to {self.updated_to.isoformat()}")

    def search_query(self) -> str | None:
        """Shopify search syntax for this window (None: everything)."""
        terms = []
        if self.updated_from:
            terms.append(f"updated_at:>='{_iso(self.updated_from)}'")
        if self.updated_to:
            terms.append(f"updated_at:<'{_iso(self.updated_to)}'")
        return " AND ".join(terms) or None

    def as_dict(self) -> dict:
        return {"mode": self.mode, "updated_from": self.updated_from and _iso(self.updated_from),
                "updated_to": self.updated_to and _iso(self.updated_to), "reason": self.reason}


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ") if ts.utcoffset() == timedelta(0) else ts.isoformat()


def watermark(cur, resource: str) -> datetime | None:
    """Newest updated_at seen by a committed full or incremental batch of `resource` (None before the first)."""
    cur.execute(f"select to_regclass('{BATCHES_TABLE}') is not null")
    if not cur.fetchone()[0]:
        return None
    cur.execute(f"select max(max_updated_at) from {BATCHES_TABLE} where resource = %s and mode in ('full', "
                "'incremental')", (resource,))
    return cur.fetchone()[0]


def committed_window(cur, run_id: str, resource: str, source: str) -> IngestWindow | None:
    """The window an earlier attempt of this run committed (a rerun asks for the same records again)."""
    cur.execute(f"select to_regclass('{BATCHES_TABLE}') is not null")
    if not cur.fetchone()[0]:
        return None
    cur.execute(f"select mode, updated_from, updated_to from {BATCHES_TABLE} where run_id = %s and resource = %s "
                "and source = %s", (run_id, resource, source))
    row = cur.fetchone()
    return IngestWindow(row[0], row[1], row[2], reason="rerun of a committed attempt: same window") if row else None


def plan_window(cur, *, run_id: str, resource: str, source: str, overlap: timedelta, full_refresh: bool = False,
                updated_from: datetime | None = None, updated_to: datetime | None = None) -> IngestWindow:
    """Decide what to ask Shopify for, in this order: an explicit full refresh; an explicit window (backfill); the
    window an earlier attempt of the same run committed; the watermark minus `overlap`; else everything (first run)."""
    if full_refresh:
        return IngestWindow("full", reason="full refresh requested")
    if updated_from or updated_to:
        return IngestWindow("backfill", updated_from, updated_to, reason="explicit updated_at window")
    earlier = committed_window(cur, run_id, resource, source)
    if earlier is not None:
        return earlier
    mark = watermark(cur, resource)
    if mark is None:
        return IngestWindow("full", reason="no watermark yet: first load of this resource")
    return IngestWindow("incremental", mark - overlap,
                        reason=f"watermark {_iso(mark)} minus an overlap of {overlap}")


def record_batch(cur, *, run_id: str, resource: str, source: str, window: IngestWindow, max_updated_at,
                 source_file: str, source_sha256: str | None, lines_in: int, rows_loaded: dict[str, int],
                 rows_quarantined: int) -> None:
    """Upsert the batch's row; call inside the load's transaction."""
    cur.execute(
        f"insert into {BATCHES_TABLE} (run_id, resource, source, mode, updated_from, updated_to, max_updated_at, "
        "source_file, source_sha256, lines_in, rows_loaded, rows_quarantined) "
        "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "on conflict (run_id, resource, source) do update set mode = excluded.mode, "
        "updated_from = excluded.updated_from, updated_to = excluded.updated_to, "
        "max_updated_at = excluded.max_updated_at, source_file = excluded.source_file, "
        "source_sha256 = excluded.source_sha256, lines_in = excluded.lines_in, rows_loaded = excluded.rows_loaded, "
        "rows_quarantined = excluded.rows_quarantined, committed_at = now()",
        (run_id, resource, source, window.mode, window.updated_from, window.updated_to, max_updated_at, source_file,
         source_sha256, lines_in, json.dumps(rows_loaded), rows_quarantined),
    )


def ingested_by_other_run(cur, sha256: str, run_id: str) -> str | None:
    """The run that already committed a file with this content (exports are ingested once), else None."""
    cur.execute(f"select to_regclass('{BATCHES_TABLE}') is not null")
    if not cur.fetchone()[0]:
        return None
    cur.execute(f"select run_id from {BATCHES_TABLE} where source_sha256 = %s and run_id <> %s limit 1",
                (sha256, run_id))
    row = cur.fetchone()
    return row[0] if row else None
