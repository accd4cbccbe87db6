"""The dbt project against a real PostgreSQL: raw_shopify rows in, staging views and marts tables out, tests as a gate.

Each test creates its own database (`storeloop_test_dbt_<random>`) on the server named by `STORELOOP_TEST_PG_URL`
(default `postgresql://postgres:postgres@127.0.0.1:5432/postgres`), creates the raw schema from
`storeloop.warehouse.raw_schema`, loads a small hand-made store, runs `dbt build` in a subprocess and drops the
database afterwards. dbt writes its target/ and logs/ into the test's tmp dir, so a developer's dbt_project/target is
never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extensions
import psycopg2.extras
import pytest

from storeloop.warehouse.raw_schema import RAW_TABLES, create_raw_schema_sql

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DEFAULT_PG_URL = "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
DBT_TIMEOUT_S = 240

# ---------------------------------------------------------------------------------------------------------------
# The hand-made store. Times are relative to "now" so the freshness check and the "no future orders" test hold.
# ---------------------------------------------------------------------------------------------------------------

NOW = datetime.now(UTC).replace(microsecond=0)
RUN_1 = "scheduled__run_1"  # two days ago
RUN_2 = "scheduled__run_2"  # one hour ago
LOADED_1 = NOW - timedelta(days=2)
LOADED_2 = NOW - timedelta(hours=1)


def gid(kind: str, n: int) -> str:
    return f"gid://shopify/{kind}/{n}"


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)


P_MUG, P_TEE, P_POSTER, P_UNSOLD = (gid("Product", n) for n in (1, 2, 3, 4))
C_ANN, C_BOB, C_CAT = (gid("Customer", n) for n in (1, 2, 3))
O_1, O_2_EDITED, O_3_CANCELLED, O_4_REFUNDED, O_5_GUEST, O_6_UNPROCESSED = (gid("Order", n) for n in range(1, 7))

# (table, run_id, source, loaded_at, typed columns)
RawRow = tuple[str, str, str, datetime, dict[str, Any]]


def product(id_: str, title: str, updated: datetime, **kw: Any) -> dict[str, Any]:
    return {
        "id": id_,
        "handle": title.lower().replace(" ", "-"),
        "title": title,
        "product_type": kw.get("product_type", "Homeware"),
        "vendor": "Storeloop Test Co",
        "status": kw.get("status", "ACTIVE"),
        "created_at": days_ago(400),
        "updated_at": updated,
    }


def variant(n: int, product_id: str, price: str, updated: datetime) -> dict[str, Any]:
    return {
        "id": gid("ProductVariant", n),
        "product_id": product_id,
        "sku": f"SKU-{n}",
        "title": "Default Title",
        "price": Decimal(price),
        "created_at": days_ago(400),
        "updated_at": updated,
    }


def customer(id_: str, email: str, updated: datetime) -> dict[str, Any]:
    return {"id": id_, "email": email, "created_at": days_ago(300), "updated_at": updated}


def order(
    id_: str, name: str, customer_id: str | None, placed: datetime | None, updated: datetime, **kw: Any
) -> dict[str, Any]:
    return {
        "id": id_,
        "name": name,
        "customer_id": customer_id,
        "email": kw.get("email"),
        "created_at": kw.get("created_at", placed),
        "processed_at": placed,
        "updated_at": updated,
        "cancelled_at": kw.get("cancelled_at"),
        "financial_status": kw.get("financial_status", "PAID"),
        "currency_code": "EUR",
        "total_price": Decimal(kw.get("total_price", "0.00")),
    }


def line(
    n: int, order_id: str, product_id: str | None, variant_n: int | None, quantity: int, unit_price: str
) -> dict[str, Any]:
    return {
        "id": gid("LineItem", n),
        "order_id": order_id,
        "product_id": product_id,
        "variant_id": gid("ProductVariant", variant_n) if variant_n else None,
        "sku": f"SKU-{variant_n}" if variant_n else None,
        "title": f"line {n}",
        "quantity": quantity,
        "unit_price": Decimal(unit_price),
    }


def store_rows() -> list[RawRow]:
    """A small store loaded by two runs. Run 2 reloads what changed, so several ids have two versions."""
    r1 = ("api_bulk", RUN_1, LOADED_1)
    r2 = ("api_bulk", RUN_2, LOADED_2)
    rows: list[tuple[str, tuple[str, str, datetime], dict[str, Any]]] = [
        # products: the mug is renamed in run 2 (newer updated_at wins)
        ("products", r1, product(P_MUG, "Mug", days_ago(30))),
        ("products", r2, product(P_MUG, "Coffee Mug", days_ago(1))),
        ("products", r1, product(P_TEE, "T Shirt", days_ago(30), product_type="Apparel")),
        ("products", r1, product(P_POSTER, "Poster", days_ago(30), product_type="Art")),
        ("products", r1, product(P_UNSOLD, "Vase", days_ago(30), status="DRAFT")),
        # variants: mug has two; its cheaper one gets cheaper in run 2 -> dim_products.price = 11.00
        ("product_variants", r1, variant(1, P_MUG, "12.00", days_ago(30))),
        ("product_variants", r2, variant(1, P_MUG, "11.00", days_ago(1))),
        ("product_variants", r1, variant(2, P_MUG, "15.00", days_ago(30))),
        ("product_variants", r1, variant(3, P_TEE, "20.00", days_ago(30))),
        ("product_variants", r1, variant(4, P_POSTER, "8.50", days_ago(30))),
        ("product_variants", r1, variant(5, P_UNSOLD, "30.00", days_ago(30))),
        # customers: Ann's run-2 row has the same updated_at (a CSV re-export): the API row still wins
        ("customers", r1, customer(C_ANN, "Ann@Example.com", days_ago(5))),
        ("customers", ("csv_export", RUN_2, LOADED_2), customer(C_ANN, "  ANN.NEW@Example.COM ", days_ago(5))),
        ("customers", r1, customer(C_BOB, "bob@example.com", days_ago(50))),
        ("customers", r1, customer(C_CAT, "cat@example.com", days_ago(50))),
        # order 1: two lines
        ("orders", r1, order(O_1, "#1001", C_ANN, days_ago(10), days_ago(10), total_price="44.00")),
        ("order_line_items", r1, line(1, O_1, P_MUG, 1, 2, "12.00")),
        ("order_line_items", r1, line(2, O_1, P_TEE, 3, 1, "20.00")),
        # order 2: pending in run 1, paid and edited (quantity 1 -> 3) in run 2; run 2 must win
        (
            "orders",
            r1,
            order(
                O_2_EDITED, "#1002", C_ANN, days_ago(3), days_ago(3), financial_status="PENDING", total_price="15.00"
            ),
        ),
        ("order_line_items", r1, line(3, O_2_EDITED, P_MUG, 2, 1, "15.00")),
        ("orders", r2, order(O_2_EDITED, "#1002", C_ANN, days_ago(3), days_ago(0.5), total_price="45.00")),
        ("order_line_items", r2, line(3, O_2_EDITED, P_MUG, 2, 3, "15.00")),
        # order 3: cancelled -> flagged in fct_order_lines, absent from interactions
        (
            "orders",
            r1,
            order(
                O_3_CANCELLED,
                "#1003",
                C_BOB,
                days_ago(8),
                days_ago(7),
                cancelled_at=days_ago(7),
                financial_status="VOIDED",
                total_price="8.50",
            ),
        ),
        ("order_line_items", r1, line(4, O_3_CANCELLED, P_POSTER, 4, 1, "8.50")),
        # order 4: refunded -> kept everywhere
        (
            "orders",
            r1,
            order(
                O_4_REFUNDED, "#1004", C_BOB, days_ago(6), days_ago(4), financial_status="REFUNDED", total_price="11.00"
            ),
        ),
        ("order_line_items", r1, line(5, O_4_REFUNDED, P_MUG, 1, 1, "11.00")),
        # order 5: guest checkout (no customer) -> in fct_order_lines, not in interactions
        (
            "orders",
            r1,
            order(O_5_GUEST, "#1005", None, days_ago(2), days_ago(2), email="Guest@Example.com", total_price="20.00"),
        ),
        ("order_line_items", r1, line(6, O_5_GUEST, P_TEE, 3, 1, "20.00")),
        # order 6: never processed -> ordered_at falls back to created_at; a custom item without product
        (
            "orders",
            r1,
            order(O_6_UNPROCESSED, "#1006", C_CAT, None, days_ago(1), created_at=days_ago(1), total_price="22.00"),
        ),
        ("order_line_items", r1, line(7, O_6_UNPROCESSED, None, None, 1, "5.00")),
        ("order_line_items", r1, line(8, O_6_UNPROCESSED, P_POSTER, 4, 2, "8.50")),
    ]
    return [(table, run_id, source, loaded_at, typed) for table, (source, run_id, loaded_at), typed in rows]


# ---------------------------------------------------------------------------------------------------------------
# Database and dbt helpers
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Warehouse:
    dsn_params: dict[str, str]  # host, port, user, password, dbname of the test database

    def connect(self) -> psycopg2.extensions.connection:
        return psycopg2.connect(**self.dsn_params)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute(sql)
            rows = cur.fetchall()
        conn.close()
        return rows

    def dbt_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            STORELOOP_WAREHOUSE_HOST=self.dsn_params.get("host", "127.0.0.1"),
            STORELOOP_WAREHOUSE_PORT=str(self.dsn_params.get("port", "5432")),
            STORELOOP_WAREHOUSE_USER=self.dsn_params.get("user", "postgres"),
            STORELOOP_WAREHOUSE_PASSWORD=self.dsn_params.get("password", ""),
            STORELOOP_WAREHOUSE_DBNAME=self.dsn_params["dbname"],
            DBT_SEND_ANONYMOUS_USAGE_STATS="false",
            DBT_USE_COLORS="false",
        )
        return env


def create_raw_schema(conn: psycopg2.extensions.connection) -> None:
    with conn.cursor() as cur:
        cur.execute(create_raw_schema_sql())
    conn.commit()


def insert_raw_rows(conn: psycopg2.extensions.connection, rows: list[RawRow]) -> None:
    with conn.cursor() as cur:
        for table_name, run_id, source, loaded_at, typed in rows:
            table = RAW_TABLES[table_name]
            columns = [*table.typed_column_names, "_run_id", "_source", "_loaded_at", "_record"]
            values = [typed[c] for c in table.typed_column_names]
            values += [
                run_id,
                source,
                loaded_at,
                psycopg2.extras.Json(typed, dumps=lambda o: json.dumps(o, default=str)),
            ]
            placeholders = ", ".join(["%s"] * len(columns))
            cur.execute(f"insert into {table.qualified_name} ({', '.join(columns)}) values ({placeholders})", values)
    conn.commit()


def seed_store(dsn_params: dict[str, str], extra_rows: list[RawRow] | None = None) -> None:
    """Create raw_shopify in the database and load the hand-made store (plus `extra_rows`)."""
    conn = psycopg2.connect(**dsn_params)
    try:
        create_raw_schema(conn)
        insert_raw_rows(conn, store_rows() + (extra_rows or []))
    finally:
        conn.close()


def dbt_executable() -> str:
    beside_python = Path(sys.executable).with_name("dbt")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("dbt")
    if found is None:
        pytest.fail("dbt is not installed in this environment: install requirements.txt into the venv")
    return found


def run_dbt(warehouse: Warehouse, work_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        dbt_executable(),
        *args,
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(work_dir / "target"),
        "--log-path", str(work_dir / "logs"),
    ]  # fmt: skip
    return subprocess.run(
        cmd, env=warehouse.dbt_env(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=DBT_TIMEOUT_S
    )


def run_results(work_dir: Path) -> dict[str, str]:
    """unique_id -> status of every node in the last dbt invocation."""
    data = json.loads((work_dir / "target" / "run_results.json").read_text())
    return {r["unique_id"]: r["status"] for r in data["results"]}


# ---------------------------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture
def warehouse() -> Iterator[Warehouse]:
    admin_url = os.environ.get("STORELOOP_TEST_PG_URL", DEFAULT_PG_URL)
    try:
        admin = psycopg2.connect(admin_url, connect_timeout=5)
    except psycopg2.OperationalError as exc:
        pytest.fail(f"no PostgreSQL at STORELOOP_TEST_PG_URL ({exc.__class__.__name__}: {str(exc).strip()})")
    admin.autocommit = True
    dbname = f"storeloop_test_dbt_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cur:
        cur.execute(f'create database "{dbname}"')
    params = {k: v for k, v in admin.get_dsn_parameters().items() if k in ("host", "port", "user")}
    params["password"] = psycopg2.extensions.parse_dsn(admin_url).get("password", "")
    params["dbname"] = dbname
    try:
        yield Warehouse(params)
    finally:
        with admin.cursor() as cur:
            cur.execute(f'drop database if exists "{dbname}" with (force)')
        admin.close()


# ---------------------------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.timeout(180)
def test_dbt_build_turns_raw_versions_into_latest_marts(warehouse: Warehouse, tmp_path: Path) -> None:
    seed_store(warehouse.dsn_params)

    result = run_dbt(warehouse, tmp_path, "build")

    assert result.returncode == 0, f"dbt build failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
    statuses = run_results(tmp_path)
    assert statuses, "dbt build ran nothing"
    assert set(statuses.values()) <= {"success", "pass", "no-op"}, statuses  # no-op: the exposure

    q = warehouse.query
    # one row per id in staging, latest version wins
    assert q("select count(*) from staging.stg_shopify__products") == [(4,)]
    assert q("select count(*) from staging.stg_shopify__orders") == [(6,)]
    assert q("select count(*) from staging.stg_shopify__order_lines") == [(8,)]
    assert q(f"select title, _run_id from staging.stg_shopify__products where product_id = '{P_MUG}'") == [
        ("Coffee Mug", RUN_2)
    ]
    # Ann's CSV re-export has the same updated_at as her API row: the API row wins whatever was loaded later
    assert q(f"select email, _source from staging.stg_shopify__customers where customer_id = '{C_ANN}'") == [
        ("ann@example.com", "api_bulk")
    ]
    assert q(f"select financial_status from staging.stg_shopify__orders where order_id = '{O_2_EDITED}'") == [("paid",)]

    # marts
    assert q("select count(*) from marts.dim_products") == [(4,)]
    assert q(f"select title, price from marts.dim_products where product_id = '{P_MUG}'") == [
        ("Coffee Mug", Decimal("11.00"))
    ]
    assert q("select count(*), count(*) filter (where is_cancelled) from marts.fct_order_lines") == [(8, 1)]
    assert q(
        f"select quantity, line_revenue from marts.fct_order_lines where order_line_id = '{gid('LineItem', 3)}'"
    ) == [(3, Decimal("45.00"))]
    assert q(
        f"select ordered_at = created_at from marts.fct_order_lines join staging.stg_shopify__orders using (order_id) where order_id = '{O_6_UNPROCESSED}' limit 1"
    ) == [(True,)]

    interactions = {
        (c, p): (n, qty, rev)
        for c, p, n, qty, rev in q(
            "select customer_id, product_id, n_orders, quantity, revenue from marts.fct_customer_product_interactions"
        )
    }
    assert interactions == {
        (C_ANN, P_MUG): (2, 5, Decimal("69.00")),  # order 1 (2 x 12.00) + edited order 2 (3 x 15.00)
        (C_ANN, P_TEE): (1, 1, Decimal("20.00")),
        (C_BOB, P_MUG): (1, 1, Decimal("11.00")),  # refunded order kept; Bob's cancelled poster order is not here
        (C_CAT, P_POSTER): (1, 2, Decimal("17.00")),  # the custom item without product is not here
    }

    # the build log names the dbt invocation that built each mart (recommender_train tags its runs with it)
    invocation = json.loads((tmp_path / "target" / "run_results.json").read_text())["metadata"]["invocation_id"]
    builds = dict(q("select model, invocation_id from marts._dbt_model_builds"))
    assert builds["fct_order_lines"] == builds["dim_customers"] == invocation
    assert q("select rows_affected from marts._dbt_model_builds where model = 'fct_order_lines'") == [(8,)]


@pytest.mark.timeout(180)
def test_dbt_build_fails_on_a_line_of_an_unknown_product(warehouse: Warehouse, tmp_path: Path) -> None:
    ghost = gid("Product", 999)
    bad_line = ("order_line_items", RUN_2, "api_bulk", LOADED_2, line(99, O_1, ghost, None, 1, "1.00"))
    seed_store(warehouse.dsn_params, extra_rows=[bad_line])

    result = run_dbt(warehouse, tmp_path, "build")

    assert result.returncode != 0, (
        f"dbt build passed although a line sells unknown product {ghost}:\n{result.stdout[-4000:]}"
    )
    failed = sorted(uid for uid, status in run_results(tmp_path).items() if status in ("fail", "error"))
    assert failed, f"dbt build failed without a failing node:\n{result.stdout[-4000:]}"
    assert all("relationships" in uid and "product_id" in uid for uid in failed), failed
    assert any("fct_order_lines" in uid for uid in failed), failed
