"""Versioned migrations: the one place where every warehouse table outside dbt is defined.

The migrations are the files `migrations/NNNN_<name>.sql` beside this module (0001 raw_shopify.*, 0002 ml.*,
0003 monitoring.*). `migrate(conn)` applies the ones a database lacks, in version order, each in its own transaction
together with its row in `storeloop_meta.schema_migrations` (version, name, checksum, applied_at): a migration is
applied completely and recorded, or not at all.

- Who runs it: `make setup` (devstack/setup.py) on the warehouse database, and every writer outside dbt before it
  writes (the raw loaders, `ml_tables`, `monitoring_tables`), so a fresh database works without setup. When the
  database is up to date that costs one query: no lock, no DDL, and the caller's transaction is left as it was.
- Concurrent callers: each migration's transaction first takes `pg_advisory_xact_lock` on one key, then reads the
  applied versions again; a caller that waited finds the migration applied by the other and skips it.
- Idempotent: a second call applies nothing. 0001–0003 use `if not exists`, so a warehouse created before
  migrations existed (by the writers' old `create table if not exists`, the same DDL) is adopted as it is.
- Never edit an applied migration: add a new numbered file. `migrate` compares the checksum recorded for each
  applied version with its file and refuses to run on a mismatch.
- A connection with an open transaction is not committed behind the caller's back: if migrations are pending,
  `migrate` raises MigrationError asking to commit or roll back first (up to date, it just returns).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from storeloop.warehouse.db import Connection

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
META_SCHEMA = "storeloop_meta"
VERSIONS_TABLE = f"{META_SCHEMA}.schema_migrations"

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_SQL = "select pg_advisory_xact_lock(hashtext('storeloop.schema_migrations'))"
_BOOTSTRAP_SQL = f"""
create schema if not exists {META_SCHEMA};
create table if not exists {VERSIONS_TABLE} (
    version integer primary key,
    name text not null,
    checksum text not null,
    applied_at timestamptz not null default now()
);
"""


class MigrationError(RuntimeError):
    """The migrations cannot be applied as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def file_name(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"

    @property
    def checksum(self) -> str:
        """sha256 of the file's text with its line endings normalised (a checkout's CRLF is not an edit)."""
        return hashlib.sha256(self.sql.replace("\r\n", "\n").encode("utf-8")).hexdigest()


def read_migrations(directory: Path) -> tuple[Migration, ...]:
    """The migrations in `directory`, by version; versions must run 1, 2, 3, ... without a gap or a duplicate."""
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: a migration is named NNNN_<lowercase_name>.sql (e.g. 0004_ml_index.sql)")
        found.append(Migration(int(match.group(1)), match.group(2), path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"{directory}: migration versions {versions} must be 1..{len(found)}, each once")
    return tuple(found)


@cache
def available() -> tuple[Migration, ...]:
    """Storeloop's migrations (read once per process)."""
    return read_migrations(MIGRATIONS_DIR)


def applied_versions(cur) -> dict[int, str]:
    """{version: checksum} recorded in the database; {} when no migration ever ran there."""
    cur.execute("select to_regclass(%s)", (VERSIONS_TABLE,))
    if cur.fetchone()[0] is None:
        return {}
    cur.execute(f"select version, checksum from {VERSIONS_TABLE}")
    return dict(cur.fetchall())


def _pending(done: dict[int, str], migrations: tuple[Migration, ...]) -> list[Migration]:
    known = {m.version: m for m in migrations}
    edited = [m.file_name for v, checksum in done.items() if (m := known.get(v)) and m.checksum != checksum]
    if edited:
        raise MigrationError(f"migration(s) {edited} changed after they were applied to this database; never edit an "
                             "applied migration: restore the file and add the change as a new numbered migration")
    newer = sorted(set(done) - set(known))
    if newer:
        log.warning("the warehouse has migration(s) %s this code does not know (it is older than the database)", newer)
    return [m for m in migrations if m.version not in done]


def migrate(conn: Connection, migrations: tuple[Migration, ...] | None = None) -> list[Migration]:
    """Apply the pending migrations (all of Storeloop's by default); returns those this call applied."""
    import psycopg2.extensions as ext

    migrations = available() if migrations is None else migrations
    was_idle = conn.info.transaction_status == ext.TRANSACTION_STATUS_IDLE
    with conn.cursor() as cur:
        todo = _pending(applied_versions(cur), migrations)
    if not todo:
        if was_idle:
            conn.rollback()  # leave the connection as it came: no transaction open
        return []
    if not was_idle:
        raise MigrationError(
            f"the warehouse lacks migration(s) {[m.file_name for m in todo]}, and this connection is inside a "
            "transaction that migrating would commit: commit or roll back first (or run `make setup`)")
    conn.rollback()  # end the read above; each migration gets a transaction of its own
    autocommit = conn.autocommit
    conn.autocommit = False  # the advisory lock and the DDL must share one transaction
    applied: list[Migration] = []
    try:
        for migration in todo:
            try:
                with conn.cursor() as cur:
                    cur.execute(_LOCK_SQL)
                    cur.execute(_BOOTSTRAP_SQL)
                    if migration.version in applied_versions(cur):  # another caller applied it while we waited
                        conn.rollback()
                        continue
                    cur.execute(migration.sql)
                    cur.execute(f"insert into {VERSIONS_TABLE} (version, name, checksum) values (%s, %s, %s)",
                                (migration.version, migration.name, migration.checksum))
                conn.commit()
            except BaseException as exc:  # an interrupted migration leaves nothing behind either
                conn.rollback()
                if isinstance(exc, Exception) and not isinstance(exc, MigrationError):
                    raise MigrationError(f"migration {migration.file_name} failed and was rolled back: {exc}") from exc
                raise
            applied.append(migration)
            log.info("warehouse migration %s applied", migration.file_name)
    finally:
        conn.autocommit = autocommit
    return applied
