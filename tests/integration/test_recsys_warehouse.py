"""The warehouse's reads of the marts and writes of ml.* / monitoring.* against a real PostgreSQL, in a throwaway
database."""

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import psycopg2
import pytest

from storeloop.monitoring.drift import ColumnDrift, DriftSummary
from storeloop.warehouse.marts import load_order_lines, load_products
from storeloop.warehouse.ml_tables import write_customer_recommendations
from storeloop.warehouse.monitoring_tables import write_drift_result

pytestmark = pytest.mark.integration

ADMIN_URL = os.environ.get("STORELOOP_TEST_PG_URL", "postgresql://postgres:postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="module")
def dsn():
    try:
        admin = psycopg2.connect(ADMIN_URL, connect_timeout=3)
    except psycopg2.OperationalError as exc:
        pytest.fail(f"no PostgreSQL at {ADMIN_URL}: {exc}")
    admin.autocommit = True
    name = f"storeloop_test_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cur:
        cur.execute(f'create database "{name}"')
    parts = urlsplit(ADMIN_URL)
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with admin.cursor() as cur:
            cur.execute(f'drop database if exists "{name}" with (force)')
        admin.close()


@pytest.fixture
def conn(dsn):
    c = psycopg2.connect(dsn)
    yield c
    c.close()


def recs(customers: list[str], k: int, offset: int = 0) -> pd.DataFrame:
    rows = [(c, f"gid://shopify/Product/{offset + r}", r, 1.0 / r) for c in customers for r in range(1, k + 1)]
    return pd.DataFrame(rows, columns=["customer_id", "product_id", "rank", "score"])


def count(conn, sql: str, *args) -> int:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchone()[0]


def test_rewriting_a_run_replaces_its_rows(conn, dsn):
    assert write_customer_recommendations(conn, recs(["c1", "c2"], 3), model_version=1, run_id="run-1") == 6
    assert write_customer_recommendations(dsn, recs(["c1", "c2"], 3), model_version=1, run_id="run-2") == 6
    # rerun of run-1 with different output: run-1 rows are replaced, run-2 untouched
    write_customer_recommendations(conn, recs(["c1", "c2", "c3", "c4"], 2, offset=50), model_version=2, run_id="run-1")
    assert count(conn, "select count(*) from ml.customer_recommendations where run_id = %s", "run-1") == 8
    assert count(conn, "select count(*) from ml.customer_recommendations where run_id = %s", "run-2") == 6
    assert (
        count(conn, "select count(distinct model_version) from ml.customer_recommendations where run_id = 'run-1'") == 1
    )
    with conn.cursor() as cur:
        cur.execute(
            "select product_id, rank, score, model_version, scored_at is not null from ml.customer_recommendations "
            "where run_id = 'run-1' and customer_id = 'c3' order by rank"
        )
        assert cur.fetchall() == [
            ("gid://shopify/Product/51", 1, 1.0, 2, True),
            ("gid://shopify/Product/52", 2, 0.5, 2, True),
        ]


def test_a_failed_write_keeps_the_previous_rows(conn):
    write_customer_recommendations(conn, recs(["c1"], 3), model_version=1, run_id="run-3")
    bad = recs(["c1"], 3)
    bad.loc[0, "score"] = None  # violates not null: COPY fails after the delete
    with pytest.raises(psycopg2.Error):
        write_customer_recommendations(conn, bad, model_version=1, run_id="run-3")
    assert count(conn, "select count(*) from ml.customer_recommendations where run_id = 'run-3'") == 3


def summary(drifted: bool) -> DriftSummary:
    columns = [ColumnDrift("unit_price", "Wasserstein distance (normed)", 0.1, 0.4 if drifted else 0.01, drifted)]
    return DriftSummary(
        dataset_drift=drifted,
        drifted_columns=int(drifted),
        share=float(drifted),
        columns=columns,
        html_path="/reports/r.html",
        json_path="/reports/r.json",
        n_reference=100,
        n_current=40,
    )


def test_drift_result_is_stored_once_per_run(conn, dsn):
    write_drift_result(conn, summary(True), run_id="mon-1", model_version=3)
    write_drift_result(dsn, summary(False), run_id="mon-1", model_version=4)
    write_drift_result(conn, summary(True), run_id="mon-2")
    assert count(conn, "select count(*) from monitoring.drift_reports") == 2
    with conn.cursor() as cur:
        cur.execute(
            "select dataset_drift, drifted_columns, model_version, column_results->0->>'column' "
            "from monitoring.drift_reports where run_id = 'mon-1'"
        )
        assert cur.fetchone() == (False, 0, 4, "unit_price")


def test_load_order_lines_and_products_from_the_marts(conn):
    with conn, conn.cursor() as cur:
        cur.execute(
            """
            create schema if not exists marts;
            create table marts.fct_order_lines (
                order_line_id text primary key, order_id text, order_name text, customer_id text, product_id text,
                variant_id text, quantity integer, unit_price numeric(14,2), line_revenue numeric(14,2),
                ordered_at timestamptz, is_cancelled boolean);
            insert into marts.fct_order_lines values
                ('l1', 'o1', '#1', 'gid://shopify/Customer/1', 'gid://shopify/Product/1', 'v1', 2, 9.99, 19.98,
                 '2026-01-01 10:00:00+02', false),
                ('l2', 'o2', '#2', null, 'gid://shopify/Product/2', 'v2', 1, 5.00, 5.00,
                 '2026-01-02 00:00:00+00', null),
                ('l3', 'o3', '#3', 'gid://shopify/Customer/1', 'gid://shopify/Product/1', 'v1', 1, 9.99, 9.99,
                 '2026-01-03 00:00:00+00', true);
            create table marts.dim_products (
                product_id text primary key, handle text, title text, product_type text, vendor text, status text,
                price numeric(14,2), created_at timestamptz);
            insert into marts.dim_products values
                ('gid://shopify/Product/1', 'mug', 'Mug, "large"', 'Kitchen', 'Acme', 'ACTIVE', 9.99,
                 '2025-01-01 00:00:00+00'),
                ('gid://shopify/Product/2', 'tee', 'Tee', null, 'Acme', 'ACTIVE', 5.00, null);
            """
        )
    lines = load_order_lines(conn)
    assert lines["order_line_id"].tolist() == ["l1", "l2"]  # cancelled line left out, null is_cancelled kept
    assert lines["ordered_at"].tolist() == [
        pd.Timestamp("2026-01-01T08:00:00Z"),
        pd.Timestamp("2026-01-02T00:00:00Z"),
    ]
    assert lines["customer_id"].tolist() == ["gid://shopify/Customer/1", None]
    assert lines["unit_price"].dtype == "float64" and lines["unit_price"].iloc[0] == 9.99
    products = load_products(conn)
    assert products["title"].tolist() == ['Mug, "large"', "Tee"]
    assert products["product_type"].tolist() == ["Kitchen", None]
