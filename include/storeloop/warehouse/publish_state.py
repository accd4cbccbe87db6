"""What the store holds and what each publish did (migration 0004): `ml.published_lists` (one row per metafield
Storeloop wrote and has not removed), `ml.publish_runs` (one row per publish attempt) and `ml.publish_failures`
(every owner a publish could not write or delete, with Shopify's message). The rules that use them are
storeloop.publish.plan's (the diff) and storeloop.publish.guardrails' (the last publish's coverage)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from storeloop.warehouse.db import Connection, copy_query_to_frame, copy_text_line
from storeloop.warehouse.migrations import migrate

if TYPE_CHECKING:
    import pandas as pd

    from storeloop.publish.writer import Failure

LISTS_TABLE = "ml.published_lists"
RUNS_TABLE = "ml.publish_runs"
FAILURES_TABLE = "ml.publish_failures"
COMPLETE = ("complete", "complete_with_failures")


def load_published(conn: Connection) -> pd.DataFrame:
    """`owner_gid, key, value_digest, model_version, run_id` of every list the store holds."""
    migrate(conn)
    frame = copy_query_to_frame(conn, f"select owner_gid, key, value_digest, model_version, run_id from {LISTS_TABLE}",
                                dtype={"owner_gid": object, "key": object, "value_digest": object})
    conn.rollback()
    return frame


def last_complete_coverage(conn: Connection, before_run: str) -> float | None:
    """Coverage of the last completed publish of another run (None before the first)."""
    with conn.cursor() as cur:
        cur.execute(f"select coverage from {RUNS_TABLE} where status = any(%s) and run_id <> %s "
                    "order by finished_at desc limit 1", (list(COMPLETE), before_run))
        row = cur.fetchone()
    conn.rollback()
    return None if row is None else row[0]


def start_publish(conn: Connection, run_id: str, model_version: int, counts: dict[str, int], coverage: float,
                  forced: bool, status: str = "running", reason: str | None = None) -> None:
    """(Re)start the run's record: a rerun replaces its row and its failures."""
    with conn, conn.cursor() as cur:
        cur.execute(f"delete from {RUNS_TABLE} where run_id = %s", (run_id,))
        cur.execute(f"delete from {FAILURES_TABLE} where run_id = %s", (run_id,))
        cur.execute(
            f"insert into {RUNS_TABLE} (run_id, model_version, status, reason, lists_desired, to_set, to_delete, "
            "unchanged, coverage, forced, finished_at) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
            "case when %s = 'running' then null else now() end)",
            (run_id, int(model_version), status, reason, counts["desired"], counts["new"] + counts["changed"],
             counts["delete"], counts["unchanged"], coverage, forced, status))


def finish_publish(conn: Connection, run_id: str, status: str, *, reason: str | None = None) -> None:
    """Close the run's record; its written / deleted / failed counts were kept by `PublishStateTable` as it went."""
    with conn, conn.cursor() as cur:
        cur.execute(f"update {RUNS_TABLE} set status = %s, reason = coalesce(%s, reason), finished_at = now() "
                    "where run_id = %s", (status, reason, run_id))


def publish_record(conn: Connection, run_id: str) -> dict[str, Any] | None:
    with conn.cursor() as cur:
        cur.execute(f"select * from {RUNS_TABLE} where run_id = %s", (run_id,))
        row = cur.fetchone()
        names = [d[0] for d in cur.description]
    conn.rollback()
    return None if row is None else dict(zip(names, row, strict=True))


@dataclass
class PublishStateTable:
    """`storeloop.publish.writer.PublishState` on the warehouse: each call is its own committed transaction."""

    conn: Connection
    run_id: str
    model_version: int
    key_versions: dict[str, int] = field(default_factory=dict)  # a list kind from another model: its version

    def record_written(self, lists: pd.DataFrame) -> None:
        if lists.empty:
            return
        buffer = io.StringIO("".join(
            copy_text_line((owner, key, digest, int(items), self.key_versions.get(key, self.model_version),
                            self.run_id))
            for owner, key, digest, items in zip(lists["owner_gid"], lists["key"], lists["digest"], lists["items"],
                                                 strict=True)))
        with self.conn, self.conn.cursor() as cur:
            cur.execute("create temporary table published_now (owner_gid text, key text, value_digest text, "
                        "items integer, model_version integer, run_id text) on commit drop")
            cur.copy_expert("COPY published_now FROM STDIN", buffer)
            cur.execute(
                f"insert into {LISTS_TABLE} (owner_gid, key, value_digest, items, model_version, run_id) "
                "select * from published_now on conflict (owner_gid, key) do update set "
                "value_digest = excluded.value_digest, items = excluded.items, "
                "model_version = excluded.model_version, run_id = excluded.run_id, published_at = now()")
            cur.execute(f"update {RUNS_TABLE} set written = written + %s where run_id = %s", (len(lists), self.run_id))

    def record_deleted(self, pairs: pd.DataFrame) -> None:
        if pairs.empty:
            return
        with self.conn, self.conn.cursor() as cur:
            cur.execute(f"delete from {LISTS_TABLE} where (owner_gid, key) in "
                        "(select * from unnest(%s::text[], %s::text[]))",
                        (pairs["owner_gid"].tolist(), pairs["key"].tolist()))
            cur.execute(f"update {RUNS_TABLE} set deleted = deleted + %s where run_id = %s", (len(pairs), self.run_id))

    def record_failures(self, failures: list[Failure]) -> None:
        if not failures:
            return
        with self.conn, self.conn.cursor() as cur:
            cur.executemany(
                f"insert into {FAILURES_TABLE} (run_id, owner_gid, key, action, message, code) "
                "values (%s, %s, %s, %s, %s, %s)",
                [(self.run_id, f.owner_gid, f.key, f.action, f.message[:2000], f.code) for f in failures])
            cur.execute(f"update {RUNS_TABLE} set failed = failed + %s where run_id = %s",
                        (len(failures), self.run_id))
