"""The warehouse's versioned migrations (storeloop.warehouse.migrations) against a real PostgreSQL.

They create exactly the tables the Python column lists describe, apply once (also under concurrent callers), adopt
a warehouse created by the code before migrations existed, never commit a caller's transaction, and refuse an
applied migration that was edited."""

from __future__ import annotations

import threading
from dataclasses import replace

import psycopg2
import pytest

from storeloop.warehouse import migrations
from storeloop.warehouse.migrations import VERSIONS_TABLE, MigrationError, available, migrate
from storeloop.warehouse.ml_tables import TABLE as RECOMMENDATIONS_TABLE
from storeloop.warehouse.ml_tables import TABLE_COLUMNS as RECOMMENDATIONS_COLUMNS
from storeloop.warehouse.monitoring_tables import TABLE as DRIFT_TABLE
from storeloop.warehouse.raw_schema import (
    BATCHES_TABLE,
    BOOKKEEPING_COLUMNS,
    PRODUCT_DELETIONS_TABLE,
    QUARANTINE_TABLE,
    RAW_TABLES,
)

pytestmark = pytest.mark.integration

# What PostgreSQL's format_type() calls the types RAW_TABLES writes.
_PG_TYPE = {"text": "text", "timestamptz": "timestamp with time zone", "numeric(14,2)": "numeric(14,2)",
            "integer": "integer", "jsonb": "jsonb", "boolean": "boolean"}
# every migration in the repository, in order (the first three are checked by name below)
ALL_VERSIONS = [m.version for m in available()]


def _columns(cur, qualified: str) -> list[tuple[str, str, bool]]:
    """(name, type, not null) of a table's columns, in their order."""
    cur.execute("select attname, format_type(atttypid, atttypmod), attnotnull from pg_attribute "
                "where attrelid = %s::regclass and attnum > 0 and not attisdropped order by attnum", (qualified,))
    return cur.fetchall()


def _expected(columns: tuple[tuple[str, str], ...]) -> list[tuple[str, str, bool]]:
    out = []
    for name, sql_type in columns:
        base = sql_type.split(" ")[0]
        out.append((name, _PG_TYPE[base], "not null" in sql_type))
    return out


def _versions(cur) -> list[tuple[int, str]]:
    cur.execute(f"select version, name from {VERSIONS_TABLE} order by version")
    return cur.fetchall()


def test_the_migrated_raw_tables_have_exactly_the_loaders_columns(warehouse_conn):
    applied = migrate(warehouse_conn)
    assert [m.file_name for m in applied] == [m.file_name for m in available()]
    assert [m.file_name for m in applied][:3] == ["0001_raw_shopify.sql", "0002_ml.sql", "0003_monitoring.sql"]
    assert "0005_product_eligibility.sql" in [m.file_name for m in applied]
    assert warehouse_conn.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE
    with warehouse_conn.cursor() as cur:
        for table in RAW_TABLES.values():
            assert _columns(cur, table.qualified_name) == _expected(table.table_layout(BOOKKEEPING_COLUMNS)), \
                table.name
            cur.execute("select indexname from pg_indexes where schemaname = 'raw_shopify' and tablename = %s",
                        (table.name,))
            assert {r[0] for r in cur.fetchall()} == {f"{table.name}_{i}_idx" for i in ("run", "id", "loaded_at")}
        assert [c[0] for c in _columns(cur, QUARANTINE_TABLE)] == [
            "run_id", "source_file", "line_no", "resource", "reason", "raw_line", "quarantined_at"]
        assert [c[0] for c in _columns(cur, BATCHES_TABLE)][:3] == ["run_id", "resource", "source"]
        # ml_tables COPYs by column name; 0004 appended source and features_build after scored_at
        assert sorted(c[0] for c in _columns(cur, RECOMMENDATIONS_TABLE)) == sorted(RECOMMENDATIONS_COLUMNS)
        assert [c[0] for c in _columns(cur, DRIFT_TABLE)][0] == "run_id"
        assert [c[0] for c in _columns(cur, PRODUCT_DELETIONS_TABLE)] == [
            "id", "detected_at", "last_loaded_at", "last_run_id", "_run_id", "_source"]
        assert _versions(cur)[:3] == [(1, "raw_shopify"), (2, "ml"), (3, "monitoring")]
        assert (5, "product_eligibility") in _versions(cur)
        assert [v for v, _ in _versions(cur)] == ALL_VERSIONS


def test_a_second_run_applies_nothing_and_leaves_no_transaction_open(warehouse_conn):
    migrate(warehouse_conn)
    assert migrate(warehouse_conn) == []
    assert warehouse_conn.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE
    # an up-to-date database inside the caller's transaction: checked, and the transaction is left open
    with warehouse_conn.cursor() as cur:
        cur.execute("create table public.callers_work (x int)")
    assert migrate(warehouse_conn) == []
    assert warehouse_conn.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_INTRANS
    warehouse_conn.rollback()
    with warehouse_conn.cursor() as cur:
        cur.execute("select to_regclass('public.callers_work')")
        assert cur.fetchone()[0] is None  # the caller's work was not committed by migrate


def test_pending_migrations_never_commit_the_callers_transaction(warehouse_conn):
    with warehouse_conn.cursor() as cur:
        cur.execute("create table public.callers_work (x int)")
    with pytest.raises(MigrationError, match="commit or roll back first"):
        migrate(warehouse_conn)
    warehouse_conn.rollback()
    with warehouse_conn.cursor() as cur:
        cur.execute("select to_regclass('public.callers_work'), to_regclass('raw_shopify.orders')")
        assert cur.fetchone() == (None, None)


def test_concurrent_callers_apply_each_migration_once(warehouse_db):
    results, errors = [], []
    barrier = threading.Barrier(6)

    def run():
        conn = psycopg2.connect(warehouse_db)
        try:
            barrier.wait()
            results.append([m.version for m in migrate(conn)])
        except Exception as exc:  # collected: a thread's failure must fail the test
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(v for applied in results for v in applied) == ALL_VERSIONS  # each applied by exactly one caller
    with psycopg2.connect(warehouse_db) as conn, conn.cursor() as cur:
        assert [v for v, _ in _versions(cur)] == ALL_VERSIONS
    conn.close()


def test_a_failing_migration_leaves_nothing_and_records_nothing(warehouse_conn):
    n = len(available()) + 1
    broken = (*available(), migrations.Migration(n, "broken", "create table public.half (x int); select 1/0;"))
    with pytest.raises(MigrationError, match=f"{n:04d}_broken.sql failed"):
        migrate(warehouse_conn, broken)
    with warehouse_conn.cursor() as cur:
        assert [v for v, _ in _versions(cur)] == ALL_VERSIONS  # the good ones before it are applied and recorded
        cur.execute("select to_regclass('public.half')")
        assert cur.fetchone()[0] is None
    warehouse_conn.rollback()


def test_an_edited_applied_migration_is_refused(warehouse_conn):
    migrate(warehouse_conn)
    edited = (replace(available()[0], sql=available()[0].sql + "\n-- edited\n"), *available()[1:])
    with pytest.raises(MigrationError, match="never edit an applied migration"):
        migrate(warehouse_conn, edited)


def test_a_warehouse_created_before_migrations_is_adopted_with_its_rows(warehouse_conn):
    """The DDL the loader and the two writers ran before migrations existed (`create table if not exists`, as of
    commit 4b554e7), then a row in each table: migrating keeps every row and records every version."""
    with warehouse_conn, warehouse_conn.cursor() as cur:
        cur.execute(OLD_DDL)
        cur.execute("insert into raw_shopify.orders (id, _run_id, _source, _record) values ('o1', 'r', 'api_bulk', '{}')")
        cur.execute("insert into ml.customer_recommendations (customer_id, product_id, rank, score, model_version, "
                    "run_id) values ('c', 'p', 1, 0.5, 1, 'r')")
        cur.execute("insert into monitoring.drift_reports (run_id, dataset_drift, drifted_columns, drift_share, "
                    "n_columns, column_results, n_reference, n_current) values ('r', false, 0, 0, 1, '[]', 1, 1)")
    assert [m.version for m in migrate(warehouse_conn)] == ALL_VERSIONS
    with warehouse_conn.cursor() as cur:
        for table in ("raw_shopify.orders", "ml.customer_recommendations", "monitoring.drift_reports"):
            cur.execute(f"select count(*) from {table}")
            assert cur.fetchone()[0] == 1, table
        for table in RAW_TABLES.values():
            assert _columns(cur, table.qualified_name) == _expected(table.table_layout(BOOKKEEPING_COLUMNS))
        assert [v for v, _ in _versions(cur)] == ALL_VERSIONS
    warehouse_conn.rollback()


def _old_raw_table(name: str, typed: str) -> str:
    return (f"create table if not exists raw_shopify.{name} (\n    {typed},\n    _run_id text not null,\n"
            "    _source text not null,\n    _loaded_at timestamptz not null default now(),\n    _record jsonb not null\n);\n"
            f"create index if not exists {name}_run_idx on raw_shopify.{name} (_run_id);\n"
            f"create index if not exists {name}_id_idx on raw_shopify.{name} (id);\n"
            f"create index if not exists {name}_loaded_at_idx on raw_shopify.{name} (_loaded_at);\n")


# The schema as the pre-migration code created it (raw_schema.create_raw_schema_sql(), recsys/scoring.CREATE_SQL and
# monitoring/alerts.CREATE_SQL at commit 4b554e7), kept here verbatim in effect so the adoption test does not depend
# on the migrations it tests.
OLD_DDL = (
    "create schema if not exists raw_shopify;\n"
    + _old_raw_table("products", "id text not null, handle text, title text, product_type text, vendor text, "
                     "status text, created_at timestamptz, updated_at timestamptz")
    + _old_raw_table("product_variants", "id text not null, product_id text, sku text, title text, "
                     "price numeric(14,2), created_at timestamptz, updated_at timestamptz")
    + _old_raw_table("customers", "id text not null, email text, created_at timestamptz, updated_at timestamptz")
    + _old_raw_table("orders", "id text not null, name text, customer_id text, email text, created_at timestamptz, "
                     "processed_at timestamptz, updated_at timestamptz, cancelled_at timestamptz, "
                     "financial_status text, currency_code text, total_price numeric(14,2)")
    + _old_raw_table("order_line_items", "id text not null, order_id text, product_id text, variant_id text, sku text, "
                     "title text, quantity integer, unit_price numeric(14,2)")
    + """
create table if not exists raw_shopify._quarantine (
    run_id text not null, source_file text not null, line_no integer not null, resource text not null,
    reason text not null, raw_line text not null, quarantined_at timestamptz not null default now()
);
create index if not exists _quarantine_run_file_idx on raw_shopify._quarantine (run_id, source_file);
create table if not exists raw_shopify._ingest_batches (
    run_id text not null, resource text not null, source text not null,
    mode text not null check (mode in ('full', 'incremental', 'backfill', 'export')),
    updated_from timestamptz, updated_to timestamptz, max_updated_at timestamptz, source_file text not null,
    source_sha256 text, lines_in integer not null, rows_loaded jsonb not null, rows_quarantined integer not null,
    committed_at timestamptz not null default now(), primary key (run_id, resource, source)
);
create index if not exists _ingest_batches_sha_idx on raw_shopify._ingest_batches (source_sha256);
create schema if not exists ml;
create table if not exists ml.customer_recommendations (
    customer_id text not null, product_id text not null, rank integer not null, score double precision not null,
    model_version integer not null, run_id text not null, scored_at timestamptz not null default now(),
    primary key (run_id, customer_id, rank)
);
create schema if not exists monitoring;
create table if not exists monitoring.drift_reports (
    run_id text primary key, dataset_drift boolean not null, drifted_columns integer not null,
    drift_share double precision not null, n_columns integer not null, column_results jsonb not null,
    n_reference integer not null, n_current integer not null, model_version integer, html_path text, json_path text,
    created_at timestamptz not null default now()
);
"""
)
