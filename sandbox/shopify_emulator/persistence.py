"""The emulated shop's state on disk: one SQLite file in the state directory, the schema of its tables, seeding it
once from the store simulator, and reading and writing the catalogue (products, variants, customers, orders, line
items) as data frames.

A state directory that already holds a seeded store is reused as it is: it is never reseeded. Metafields, bulk
operations and staged uploads write their own rows through `StateDatabase.connection` under `StateDatabase.lock`
(one lock for the one connection, shared by every part of the store).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from sandbox.store_simulator import StoreData, simulate_store

from .scalars import now_iso

log = logging.getLogger("sandbox.shopify_emulator")

DB_FILE = "shopify.sqlite3"
CATALOGUE_TABLES = ("products", "variants", "customers", "orders", "line_items")
LIST_COLUMNS = {"tags"}  # list-valued columns, held as JSON text on disk

METAFIELDS_DDL = (
    "create table metafields (num integer primary key, owner_id text not null, namespace text not null,"
    " key text not null, type text not null, value text not null, created_at text not null,"
    " updated_at text not null, unique (owner_id, namespace, key))"
)
BULK_OPERATIONS_DDL = (
    "create table bulk_operations (num integer primary key, type text, status text, query text,"
    " created_at text, completed_at text, object_count integer, root_object_count integer,"
    " file_size integer, error_code text, file_name text)"
)
METAFIELD_DEFINITIONS_DDL = (
    "create table if not exists metafield_definitions (num integer primary key, owner_type text not null,"
    " namespace text not null, key text not null, name text not null, description text, type text not null,"
    " admin_access text, storefront_access text, customer_account_access text, pinned_position integer,"
    " validations text not null, created_at text not null, unique (owner_type, namespace, key))"
)
STAGED_UPLOADS_DDL = (
    "create table if not exists staged_uploads (key text primary key, filename text, mime_type text,"
    " created_at text, uploaded_at text, size integer)"
)


class StateDatabase:
    """The SQLite state file, its `meta` key/value table, and the catalogue tables seeded from the simulator."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.lock = threading.RLock()
        self.connection = sqlite3.connect(state_dir / DB_FILE, check_same_thread=False, isolation_level=None)
        self.connection.execute("pragma journal_mode=wal")
        self.connection.execute("create table if not exists meta (key text primary key, value text)")
        self.connection.execute(STAGED_UPLOADS_DDL)
        self.connection.execute(METAFIELD_DEFINITIONS_DDL)  # a state file from before definitions gains the table
        self.meta = self.read_meta()

    def read_meta(self) -> dict[str, str]:
        return dict(self.connection.execute("select key, value from meta").fetchall())

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction under the lock: committed when the block ends, rolled back when it raises."""
        with self.lock:
            db = self.connection
            db.execute("begin")
            try:
                yield db
                db.execute("commit")
            except BaseException:
                db.execute("rollback")
                raise

    def close(self) -> None:
        with self.lock:
            self.connection.close()

    # ---------------------------------------------------------------------------------------------------- seeding

    def ensure_seeded(self, seed: int, size: str, days: int, end: datetime | None) -> None:
        """Seed an empty state file from the simulator; a seeded one is kept whatever seed and size it was made with."""
        if self.meta.get("seeded") != "1":
            self._seed(seed, size, days, end)
            self.meta = self.read_meta()
        elif (self.meta.get("seed"), self.meta.get("size")) != (str(seed), size):
            log.info(
                "state in %s was seeded with seed=%s size=%s: reusing it (not reseeding)",
                self.state_dir,
                self.meta.get("seed"),
                self.meta.get("size"),
            )

    def _seed(self, seed: int, size: str, days: int, end: datetime | None) -> None:
        data = simulate_store(seed=seed, size=size, days=days, end=end)
        with self.transaction() as db:
            _write_catalogue(db, data)
            db.execute("drop table if exists metafields")
            db.execute(METAFIELDS_DDL)
            db.execute("drop table if exists bulk_operations")
            db.execute(BULK_OPERATIONS_DDL)
            db.execute("drop table if exists metafield_definitions")
            db.execute(METAFIELD_DEFINITIONS_DDL)
            _write_meta(
                db,
                {
                    "seed": str(seed),
                    "size": size,
                    "days": str(days),
                    "start": data.start.isoformat(),
                    "end": data.end.isoformat(),
                    "seeded_at": now_iso(),
                    "seeded": "1",
                },
            )
        log.info("seeded %s store (seed=%s) into %s: %s", size, seed, self.state_dir, data.counts())

    # -------------------------------------------------------------------------------------------- the catalogue

    def read_table(self, name: str) -> pd.DataFrame:
        """One catalogue table as stored (list columns still JSON text), in insertion order."""
        return pd.read_sql(f"select * from {name} order by rowid", self.connection)

    def update_row(self, table: str, id_column: str, gid: str, changes: dict[str, object]) -> None:
        """Change columns of one catalogue row in place (a sandbox edit: a product's status, a variant's stock);
        a column the table lacks (a state file seeded before it existed) is added first."""
        with self.transaction() as db:
            have = {row[1] for row in db.execute(f"pragma table_info({table})")}
            for column, value in changes.items():
                if column not in have:
                    kind = "integer" if isinstance(value, (bool, int)) else "text"
                    db.execute(f'alter table {table} add column "{column}" {kind}')
            assignments = ", ".join(f'"{c}" = ?' for c in changes)
            values = [int(v) if isinstance(v, bool) else v for v in changes.values()]
            db.execute(f'update {table} set {assignments} where "{id_column}" = ?', [*values, gid])

    def store_data(self) -> StoreData:
        """The live store as the simulator's StoreData (tastes from the `customer_taste` table, or re-simulated from
        the seed the first time)."""
        db = self.connection
        with self.lock:
            frames = {name: self.read_table(name) for name in CATALOGUE_TABLES}
            has_taste = db.execute(
                "select 1 from sqlite_master where type = 'table' and name = 'customer_taste'"
            ).fetchone()
            taste = pd.read_sql("select * from customer_taste order by rowid", db) if has_taste else None
            meta = self.read_meta()
        for name in ("products", "customers"):
            frames[name]["tags"] = frames[name]["tags"].map(lambda v: json.loads(v) if isinstance(v, str) else [])
        frames["customers"]["verified_email"] = frames["customers"]["verified_email"].astype(bool)
        for name, df in frames.items():
            frames[name] = df.replace({np.nan: None}) if name in ("orders",) else df
        if taste is not None:
            taste["favourite_types"] = taste["favourite_types"].map(json.loads)
        else:
            original = simulate_store(
                seed=int(meta["seed"]),
                size=meta["size"],
                days=int(meta["days"]),
                end=datetime.fromisoformat(meta["end"]),
            )
            taste = original.customer_taste
        start = datetime.fromisoformat(meta["start"])
        end = datetime.fromisoformat(meta.get("current_end") or meta["end"])
        return StoreData(
            seed=int(meta["seed"]),
            size=meta["size"],
            start=start,
            end=end,
            companions=pd.DataFrame({"product_id": [], "companion_id": []}),
            customer_taste=taste,
            meta={"days": (end - start).days, "scenarios": json.loads(meta.get("scenarios") or "[]")},
            **frames,
        )

    def write_evolved(self, data: StoreData) -> None:
        """Replace the catalogue and the customers' tastes with an evolved store, and note how far it now reaches."""
        taste = data.customer_taste.copy()
        taste["favourite_types"] = taste["favourite_types"].map(json.dumps)
        with self.transaction() as db:
            _write_catalogue(db, data)
            _write_frame(db, "customer_taste", taste)
            _write_meta(
                db,
                {
                    "current_end": data.end.isoformat(),
                    "scenarios": json.dumps(data.meta.get("scenarios", [])),
                    "advanced_at": now_iso(),
                },
            )
        with self.lock:
            self.meta = self.read_meta()


def _write_meta(db: sqlite3.Connection, rows: dict[str, str]) -> None:
    db.executemany("insert or replace into meta (key, value) values (?, ?)", rows.items())


def _write_catalogue(db: sqlite3.Connection, data: StoreData) -> None:
    """(Re)create the catalogue tables from a StoreData, list columns as JSON, inside the caller's transaction."""
    for name in CATALOGUE_TABLES:
        df = getattr(data, name).copy()
        for c in LIST_COLUMNS & set(df.columns):
            df[c] = df[c].map(json.dumps)
        _write_frame(db, name, df)


def _write_frame(db: sqlite3.Connection, name: str, df: pd.DataFrame) -> None:
    """(Re)create table `name` from a DataFrame inside the caller's transaction (pandas.to_sql would commit)."""

    def sql_type(dtype) -> str:
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
            return "integer"
        if pd.api.types.is_float_dtype(dtype):
            return "real"
        return "text"

    cols = ", ".join(f'"{c}" {sql_type(t)}' for c, t in df.dtypes.items())
    db.execute(f"drop table if exists {name}")
    db.execute(f"create table {name} ({cols})")
    marks = ", ".join("?" for _ in df.columns)
    columns = [
        df[c].map(lambda v: int(v) if isinstance(v, (bool, np.bool_)) else v).tolist()
        if pd.api.types.is_bool_dtype(df[c].dtype)
        else df[c].tolist()
        for c in df.columns
    ]
    db.executemany(f"insert into {name} values ({marks})", zip(*columns, strict=True))
