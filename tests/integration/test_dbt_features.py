"""The feature store on the hand-made store of tests/support/dbt_store.py plus CSV-export rows: API/CSV
unification, the point-in-time cutoff, incremental fct_order_lines == full refresh, and the quality gate (planted
defects fail the build and nothing downstream of them runs).

CSV rows are inserted straight into raw_shopify.* in the shape the CSV loader's contract gives them (see
docs/features.md): `_source = 'csv_export:<file>'`, CSV keys (`csv:product:<handle>`, `csv:order:<name>`, ...),
`_record` = the CSV row keyed by its headers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from support.dbt_store import (
    C_ANN,
    C_BOB,
    LOADED_1,
    NOW,
    O_1,
    O_2_EDITED,
    O_4_REFUNDED,
    P_MUG,
    P_POSTER,
    P_TEE,
    RUN_1,
    customer,
    days_ago,
    gid,
    line,
    order,
    planted_duplicate_in_a_load,
    product,
    seed_store,
)
from support.dbt_warehouse import RawRow, Warehouse, insert_raw_rows, run_dbt, run_results

from storeloop.warehouse import ingest_state
from storeloop.warehouse.ingest_state import IngestWindow

pytestmark = pytest.mark.integration

CSV = "csv_export:orders_export_1.csv"
CSV_PRODUCTS = "csv_export:products_export_1.csv"
CSV_CUSTOMERS = "csv_export:customers_export_1.csv"
RUN_CSV = "manual__csv_import"
LOADED_CSV = NOW - timedelta(minutes=30)
DAN = "email:dan@example.com"
EVE = "email:eve@example.com"


def insert(warehouse: Warehouse, rows: list[RawRow]) -> None:
    conn = psycopg2.connect(**warehouse.dsn_params)
    try:
        insert_raw_rows(conn, rows)
    finally:
        conn.close()


def build(warehouse: Warehouse, work: Path, *args: str) -> dict[str, str]:
    result = run_dbt(warehouse, work, "build", *args)
    assert result.returncode == 0, f"dbt build {args} failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
    return run_results(work)


# ---------------------------------------------------------------------------------------------------------------
# CSV-shaped rows (the CSV loader's contract)
# ---------------------------------------------------------------------------------------------------------------


def csv_order(id_: str, name: str, email: str, placed: datetime, total: str, **csv_cols: Any) -> dict[str, Any]:
    record = {"Name": name, "Email": email, "Financial Status": "paid", "Created at": placed.isoformat(),
              "Total": total, **csv_cols}
    return {"id": id_, "name": name, "customer_id": None, "email": email.lower(), "created_at": placed,
            "processed_at": None, "updated_at": None, "cancelled_at": None, "financial_status": "PAID",
            "currency_code": "EUR", "total_price": Decimal(total), **record}


def csv_line(order_id: str, n: int, sku: str | None, quantity: int, price: str) -> dict[str, Any]:
    return {"id": f"csv:line:{order_id}:{n}", "order_id": order_id, "product_id": None, "variant_id": None,
            "sku": sku, "title": f"csv line {n}", "quantity": quantity, "unit_price": Decimal(price),
            "Lineitem sku": sku or "", "Lineitem quantity": quantity, "Lineitem price": price}


def csv_rows() -> list[RawRow]:
    o7 = gid("Order", 7)
    rows: list[tuple[str, str, dict[str, Any]]] = [
        # products: the API mug (handle coffee-mug) exported too -> one product; a scarf only the CSV knows
        ("products", CSV_PRODUCTS, {"id": "csv:product:coffee-mug", "handle": "coffee-mug", "title": "Coffee Mug",
                                    "product_type": "Homeware", "vendor": "Storeloop Test Co", "status": "ACTIVE",
                                    "created_at": None, "updated_at": None}),
        ("products", CSV_PRODUCTS, {"id": "csv:product:scarf", "handle": "scarf", "title": "Scarf",
                                    "product_type": "Apparel", "vendor": "Storeloop Test Co", "status": "ACTIVE",
                                    "created_at": None, "updated_at": None}),
        ("product_variants", CSV_PRODUCTS, {"id": "csv:variant:coffee-mug:1", "product_id": "csv:product:coffee-mug",
                                            "sku": "SKU-1", "title": "Default Title", "price": Decimal("99.00"),
                                            "created_at": None, "updated_at": None}),
        ("product_variants", CSV_PRODUCTS, {"id": "csv:variant:scarf:1", "product_id": "csv:product:scarf",
                                            "sku": "SCARF-1", "title": "Default Title", "price": Decimal("25.00"),
                                            "created_at": None, "updated_at": None}),
        # customers: Ann exported with her Customer ID (the API row wins); Bob and Dan exported without one
        ("customers", CSV_CUSTOMERS, {"id": C_ANN, "email": "ann@example.com", "created_at": None,
                                      "updated_at": None, "Default Address Country Code": "GB"}),
        ("customers", CSV_CUSTOMERS, {"id": "csv:customer:bob@example.com", "email": "bob@example.com",
                                      "created_at": None, "updated_at": None}),
        ("customers", CSV_CUSTOMERS, {"id": "csv:customer:dan@example.com", "email": "dan@example.com",
                                      "created_at": None, "updated_at": None, "Country Code": "fr"}),
        # order 7: exported with its Id, no API twin; Bob by email; lines by SKU: tee, scarf, unknown SKU
        ("orders", CSV, csv_order(o7, "#1007", "Bob@Example.com", days_ago(0.2), "55.00",
                                  **{"Shipping Country": "SE", "Billing Country": "US"})),
        ("order_line_items", CSV, csv_line(o7, 1, "SKU-3", 1, "20.00")),
        ("order_line_items", CSV, csv_line(o7, 2, "SCARF-1", 1, "25.00")),
        ("order_line_items", CSV, csv_line(o7, 3, "NOPE-9", 2, "5.00")),
        # #1001 exported without Id: the same order as API order 1 -> left out (duplicate_of_api_order)
        ("orders", CSV, csv_order("csv:order:#1001", "#1001", "ann@example.com", days_ago(10), "44.00")),
        ("order_line_items", CSV, csv_line("csv:order:#1001", 1, "SKU-1", 2, "12.00")),
        # API order 1 exported with its Id: the API version is kept, the CSV line is superseded
        ("orders", CSV, csv_order(O_1, "#1001", "ann@example.com", days_ago(10), "44.00")),
        ("order_line_items", CSV, csv_line(O_1, 1, "SKU-1", 2, "12.00")),
        # Dan: known only by email (CSV customer without id); billing country only
        ("orders", CSV, csv_order("csv:order:#2001", "#2001", "dan@example.com", days_ago(4), "24.00",
                                  **{"Billing Country": "DE"})),
        ("order_line_items", CSV, csv_line("csv:order:#2001", 1, "SKU-1", 2, "12.00")),
        # Eve: in no customer record at all
        ("orders", CSV, csv_order("csv:order:#2002", "#2002", "eve@example.com", days_ago(3), "8.50")),
        ("order_line_items", CSV, csv_line("csv:order:#2002", 1, "SKU-4", 1, "8.50")),
    ]
    return [(table, RUN_CSV, source, LOADED_CSV, typed) for table, source, typed in rows]


def api_extras() -> list[RawRow]:
    """API rows that exercise the country fields and a line removed by an order edit."""
    ann = {**customer(C_ANN, "Ann@Example.com", days_ago(5)), "defaultAddress": {"countryCodeV2": "SE"}}
    return [
        ("customers", RUN_1, "api_bulk", LOADED_1 + timedelta(seconds=1), ann),
        # order 2 had a second line in run 1; run 2 reloaded the order without it
        ("order_line_items", RUN_1, "api_bulk", LOADED_1, line(9, O_2_EDITED, P_TEE, 3, 1, "20.00")),
    ]


# ---------------------------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.timeout(300)
def test_csv_and_api_rows_are_unified_and_nothing_is_dropped_silently(warehouse: Warehouse, tmp_path: Path) -> None:
    seed_store(warehouse.dsn_params, extra_rows=api_extras() + csv_rows())

    statuses = build(warehouse, tmp_path)
    assert set(statuses.values()) <= {"success", "pass", "no-op"}, statuses

    q = warehouse.query
    # products: the CSV mug is the API mug (API attributes and price), the scarf is a product of its own
    assert q("select product_id, handle, price, product_source, skus from marts.dim_products "
             "order by handle nulls last, product_id") == [
        (P_MUG, "coffee-mug", Decimal("11.00"), "api", ["SKU-1", "SKU-2"]),
        (P_POSTER, "poster", Decimal("8.50"), "api", ["SKU-4"]),
        ("csv:product:scarf", "scarf", Decimal("25.00"), "csv", ["SCARF-1"]),
        (P_TEE, "t-shirt", Decimal("20.00"), "api", ["SKU-3"]),
        (gid("Product", 4), "vase", Decimal("30.00"), "api", ["SKU-5"]),
        # known only from the order lines: the CSV line's unknown SKU (the API custom item "line 7" has no product)
        ("csv:sku:NOPE-9", None, None, "order_lines", ["NOPE-9"]),
    ]
    # CSV lines: product by SKU (an unknown SKU: a product of its own, csv:sku:), customer by email, else an email key
    csv_lines = q("select order_line_id, customer_id, product_id, line_revenue, country_code "
                  "from marts.fct_order_lines where line_source = 'csv' order by order_line_id")
    o7 = gid("Order", 7)
    assert csv_lines == [
        ("csv:line:csv:order:#2001:1", DAN, P_MUG, Decimal("24.00"), "DE"),
        ("csv:line:csv:order:#2002:1", EVE, P_POSTER, Decimal("8.50"), None),
        (f"csv:line:{o7}:1", C_BOB, P_TEE, Decimal("20.00"), "SE"),
        (f"csv:line:{o7}:2", C_BOB, "csv:product:scarf", Decimal("25.00"), "SE"),
        (f"csv:line:{o7}:3", C_BOB, "csv:sku:NOPE-9", Decimal("10.00"), "SE"),
    ]
    # what is left out, and why
    assert q("select order_line_id, exclusion_reason from intermediate.int_shopify__order_lines "
             "where exclusion_reason is not null order by 1") == [
        ("csv:line:csv:order:#1001:1", "duplicate_of_api_order"),
        (f"csv:line:{O_1}:1", "superseded_by_api_order"),
        (gid("LineItem", 9), "removed_from_order"),
    ]
    # order 1 is counted once: its two API lines
    assert q("select count(*), sum(line_revenue) from marts.fct_order_lines where order_name = '#1001'") == [
        (2, Decimal("44.00"))
    ]
    # customers: Ann's API record (country SE, not the CSV's GB); Bob's country from his latest order; Dan by
    # email with the legacy export's country; Eve known only from her order
    assert q("select customer_id, email, country_code, customer_source from marts.dim_customers order by 1") == [
        (DAN, "dan@example.com", "FR", "csv_export"),
        (EVE, "eve@example.com", None, "email_only"),
        (C_ANN, "ann@example.com", "SE", "api"),
        (C_BOB, "bob@example.com", "SE", "api"),
        (gid("Customer", 3), "cat@example.com", None, "api"),
    ]
    first_ann = days_ago(10)
    assert q(f"select first_order_at, cohort_month from marts.dim_customers where customer_id = '{C_ANN}'") == [
        (first_ann, first_ann.date().replace(day=1))
    ]
    # Bob's CSV order counts for his features: 55.00 besides his refunded 11.00 order (his cancelled poster order
    # does not count)
    assert q(f"select frequency, monetary from marts.customer_features "
             f"where customer_id = '{C_BOB}'") == [(2, Decimal("66.00"))]


FEATURE_TABLES = ("customer_features", "product_features", "fct_customer_product_interactions", "product_co_purchase")


def snapshot_features(warehouse: Warehouse) -> dict[str, list[tuple[Any, ...]]]:
    return {t: sorted(warehouse.query(f"select * from marts.{t}"), key=repr) for t in FEATURE_TABLES}


@pytest.mark.timeout(400)
def test_features_as_of_a_cutoff_see_nothing_after_it(warehouse: Warehouse, tmp_path: Path) -> None:
    seed_store(warehouse.dsn_params)
    cutoff = days_ago(5)
    as_of = ["--vars", f"{{as_of: '{cutoff.isoformat()}'}}"]
    build(warehouse, tmp_path, *as_of)
    before = snapshot_features(warehouse)
    assert all(before.values()), {t: len(rows) for t, rows in before.items()}
    assert {r[0] for r in warehouse.query("select distinct as_of from marts.customer_features")} == {cutoff}

    # After the cutoff: a new order (with a never-seen pair of products), a cancellation of an order placed before
    # the cutoff, and a new product.
    run_3, loaded_3 = "scheduled__run_3", NOW - timedelta(minutes=5)
    late = [
        ("products", run_3, "api_bulk", loaded_3, {**product(gid("Product", 50), "Lamp", days_ago(1)),
                                                   "created_at": days_ago(1)}),
        ("orders", run_3, "api_bulk", loaded_3, order(gid("Order", 60), "#1060", C_BOB, days_ago(1), days_ago(1),
                                                      total_price="32.50")),
        ("order_line_items", run_3, "api_bulk", loaded_3, line(60, gid("Order", 60), P_POSTER, 4, 1, "8.50")),
        ("order_line_items", run_3, "api_bulk", loaded_3, line(61, gid("Order", 60), P_TEE, 3, 1, "20.00")),
        ("order_line_items", run_3, "api_bulk", loaded_3, line(62, gid("Order", 60), gid("Product", 50), None, 1,
                                                               "4.00")),
        ("orders", run_3, "api_bulk", loaded_3, order(O_4_REFUNDED, "#1004", C_BOB, days_ago(6), days_ago(2),
                                                      cancelled_at=days_ago(2), financial_status="REFUNDED",
                                                      total_price="11.00")),
        ("order_line_items", run_3, "api_bulk", loaded_3, line(5, O_4_REFUNDED, P_MUG, 1, 1, "11.00")),
    ]
    insert(warehouse, late)

    build(warehouse, tmp_path, *as_of)
    assert snapshot_features(warehouse) == before

    # the same data without a cutoff does see them (so the comparison above could fail)
    build(warehouse, tmp_path)
    now_rows = snapshot_features(warehouse)
    assert warehouse.query(f"select count(*) from marts.product_co_purchase where product_id = '{P_POSTER}' "
                           f"and other_product_id = '{P_TEE}'") == [(1,)]
    assert (C_BOB, P_MUG) not in {(r[0], r[1]) for r in now_rows["fct_customer_product_interactions"]}
    assert gid("Product", 50) in {r[0] for r in now_rows["product_features"]}


def fct_rows(warehouse: Warehouse) -> list[tuple[Any, ...]]:
    """fct_order_lines, then int_shopify__orders (both incremental): what a full refresh must reproduce."""
    return warehouse.query("select * from marts.fct_order_lines order by order_line_id") + warehouse.query(
        "select * from intermediate.int_shopify__orders order by order_id"
    )


RUN_3, LOADED_3 = "scheduled__run_3", NOW - timedelta(minutes=10)
O_NEW = gid("Order", 70)


def nightly_changes() -> list[RawRow]:
    """One nightly load: a new order, a cancellation, an edit that removes a line, a refund, and a late customer
    record that changes a CSV order's customer."""
    run_3, loaded_3, o_new = RUN_3, LOADED_3, O_NEW
    return [
        # a new order
        ("orders", run_3, "api_bulk", loaded_3, order(o_new, "#1070", C_ANN, days_ago(0.1), days_ago(0.1),
                                                      total_price="28.50")),
        ("order_line_items", run_3, "api_bulk", loaded_3, line(70, o_new, P_POSTER, 4, 1, "8.50")),
        ("order_line_items", run_3, "api_bulk", loaded_3, line(71, o_new, P_TEE, 3, 1, "20.00")),
        # order 1 cancelled
        ("orders", run_3, "api_bulk", loaded_3, order(O_1, "#1001", C_ANN, days_ago(10), days_ago(0.1),
                                                      cancelled_at=days_ago(0.1), financial_status="VOIDED",
                                                      total_price="44.00")),
        ("order_line_items", run_3, "api_bulk", loaded_3, line(1, O_1, P_MUG, 1, 2, "12.00")),
        ("order_line_items", run_3, "api_bulk", loaded_3, line(2, O_1, P_TEE, 3, 1, "20.00")),
        # order 2 edited again: its mug line is replaced by two posters
        ("orders", run_3, "api_bulk", loaded_3, order(O_2_EDITED, "#1002", C_ANN, days_ago(3), days_ago(0.1),
                                                      total_price="17.00")),
        ("order_line_items", run_3, "api_bulk", loaded_3, line(72, O_2_EDITED, P_POSTER, 4, 2, "8.50")),
        # order 4 fully refunded later
        ("orders", run_3, "api_bulk", loaded_3, order(O_4_REFUNDED, "#1004", C_BOB, days_ago(6), days_ago(0.1),
                                                      financial_status="REFUNDED", total_price="11.00")),
        ("order_line_items", run_3, "api_bulk", loaded_3, line(5, O_4_REFUNDED, P_MUG, 1, 1, "11.00")),
        # Dan becomes a customer: his earlier CSV order (built as email:dan@...) now resolves to his GID
        ("customers", run_3, "api_bulk", loaded_3, customer(gid("Customer", 4), "dan@example.com", days_ago(0.1))),
    ]


@pytest.mark.timeout(600)
def test_incremental_fct_order_lines_equals_a_full_refresh(warehouse: Warehouse, tmp_path: Path) -> None:
    seed_store(warehouse.dsn_params, extra_rows=[r for r in csv_rows() if r[0] != "customers" or "dan" not in r[4]["id"]])
    # the seeded loads are hours and days old: a one-hour lookback makes "unchanged" orders exist in this test
    lookback = ["--vars", "{order_lines_lookback_hours: 1}"]
    build(warehouse, tmp_path, *lookback)
    assert warehouse.query("select customer_id from marts.fct_order_lines where order_id = 'csv:order:#2001'") == [
        (DAN,)
    ]
    # a sentinel on a line of an order nothing touches: an incremental run must leave that order alone
    with warehouse.connect() as conn, conn.cursor() as cur:
        cur.execute(f"update marts.fct_order_lines set title = 'SENTINEL' where order_line_id = '{gid('LineItem', 6)}'")
    conn.close()

    o_new = O_NEW
    insert(warehouse, nightly_changes())

    build(warehouse, tmp_path, *lookback)
    log = (tmp_path / "logs" / "dbt.log").read_text()
    assert 'delete from "' in log and "fct_order_lines\" where order_id = any(array[" in log, "the incremental path did not run"
    assert "int_shopify__orders\" where order_id = any(array[" in log, "int_shopify__orders was rebuilt, not updated"
    assert warehouse.query(f"select title from marts.fct_order_lines where order_line_id = '{gid('LineItem', 6)}'") == [
        ("SENTINEL",)
    ], "an incremental run rewrote an order that did not change"
    with warehouse.connect() as conn, conn.cursor() as cur:
        cur.execute(f"update marts.fct_order_lines set title = 'line 6' where order_line_id = '{gid('LineItem', 6)}'")
    conn.close()

    q = warehouse.query
    assert q(f"select count(*) from marts.fct_order_lines where order_id = '{o_new}'") == [(2,)]
    assert q(f"select bool_and(is_cancelled) from marts.fct_order_lines where order_id = '{O_1}'") == [(True,)]
    assert q(f"select order_line_id from marts.fct_order_lines where order_id = '{O_2_EDITED}'") == [
        (gid("LineItem", 72),)
    ]
    assert q(f"select financial_status, is_refunded from marts.fct_order_lines where order_id = '{O_4_REFUNDED}'") == [
        ("refunded", True)
    ]
    assert q("select customer_id from marts.fct_order_lines where order_id = 'csv:order:#2001'") == [
        (gid("Customer", 4),)
    ]
    incremental = fct_rows(warehouse)

    # a rerun with nothing new changes nothing
    build(warehouse, tmp_path, *lookback)
    assert fct_rows(warehouse) == incremental

    build(warehouse, tmp_path, "--full-refresh")
    assert fct_rows(warehouse) == incremental

    # more changed orders than order_lines_max_listed_orders: the table is emptied and rebuilt in the incremental run
    insert(warehouse, [("orders", "scheduled__run_4", "api_bulk", NOW - timedelta(minutes=5),
                        order(o_new, "#1070", C_ANN, days_ago(0.1), days_ago(0.05), financial_status="REFUNDED",
                              total_price="28.50")),
                       ("order_line_items", "scheduled__run_4", "api_bulk", NOW - timedelta(minutes=5),
                        line(70, o_new, P_POSTER, 4, 1, "8.50"))])
    build(warehouse, tmp_path, "--vars", "{order_lines_lookback_hours: 1, order_lines_max_listed_orders: 0}")
    truncated = [ln for ln in (tmp_path / "logs" / "dbt.log").read_text().splitlines() if "truncate " in ln]
    assert any('"marts"."fct_order_lines"' in ln for ln in truncated), "the rebuild path did not run"
    assert any('"intermediate"."int_shopify__orders"' in ln for ln in truncated), truncated
    rebuilt = fct_rows(warehouse)
    assert q(f"select order_line_id, is_refunded from marts.fct_order_lines where order_id = '{o_new}'") == [
        (gid("LineItem", 70), True)
    ]
    build(warehouse, tmp_path, "--full-refresh")
    assert fct_rows(warehouse) == rebuilt


LOADER_RESOURCES = {"orders": "orders", "order_line_items": "orders", "customers": "customers",
                    "products": "products", "product_variants": "products"}


def load_like_the_loader(warehouse: Warehouse, rows: list[RawRow], run_id: str) -> None:
    """Commit `rows` the way Storeloop's loaders do (raw_loader.RawBatch): in one transaction, replace the rows an
    earlier attempt of the run loaded, stamp them with the transaction's now(), and write one _ingest_batches row
    per resource (committed_at = that now())."""
    conn = psycopg2.connect(**warehouse.dsn_params)
    try:
        with conn.cursor() as cur:
            cur.execute("select now()")
            stamp = cur.fetchone()[0]
            for table in {table for table, *_ in rows}:
                cur.execute(f"delete from raw_shopify.{table} where _run_id = %s and _source = 'api_bulk'", (run_id,))
            for resource in sorted({LOADER_RESOURCES[table] for table, *_ in rows}):
                loaded = [table for table, *_ in rows if LOADER_RESOURCES[table] == resource]
                ingest_state.record_batch(
                    cur, run_id=run_id, resource=resource, source="api_bulk", window=IngestWindow("incremental"),
                    max_updated_at=None, source_file=f"{resource}.jsonl", source_sha256=None, lines_in=len(loaded),
                    rows_loaded={t: loaded.count(t) for t in set(loaded)}, rows_quarantined=0)
        insert_raw_rows(conn, [(table, run_id, "api_bulk", stamp, typed) for table, _, _, _, typed in rows])
    finally:
        conn.close()


def newest_changed_orders(work: Path) -> str:
    """The last build's delete of fct_order_lines' changed orders, as logged (it lists their ids)."""
    deletes = [ln for ln in (work / "logs" / "dbt.log").read_text().splitlines()
               if "fct_order_lines\" where order_id = any(array[" in ln]
    assert deletes, "fct_order_lines was not updated incrementally"
    return deletes[-1]


@pytest.mark.timeout(900)
def test_the_lookback_skips_loads_an_earlier_build_saw(warehouse: Warehouse, tmp_path: Path) -> None:
    seed_store(warehouse.dsn_params)
    o_a, o_b = gid("Order", 80), gid("Order", 81)
    load_a = [("orders", "", "", None, order(o_a, "#1080", C_ANN, days_ago(0.2), days_ago(0.2), total_price="12.00")),
              ("order_line_items", "", "", None, line(80, o_a, P_MUG, 1, 1, "12.00"))]
    load_b = [("orders", "", "", None, order(o_b, "#1081", C_BOB, days_ago(0.1), days_ago(0.1), total_price="20.00")),
              ("order_line_items", "", "", None, line(81, o_b, P_TEE, 3, 1, "20.00"))]
    lookback = ["--vars", "{order_lines_lookback_hours: 1}"]
    load_like_the_loader(warehouse, load_a, "scheduled__load_a")
    build(warehouse, tmp_path, *lookback)  # the first build sees load A
    assert warehouse.query(f"select count(*) from marts.fct_order_lines where order_id = '{o_a}'") == [(1,)]

    # load B, seconds after A: A is inside the lookback, but the last build saw it, so only B is read again
    load_like_the_loader(warehouse, load_b, "scheduled__load_b")
    build(warehouse, tmp_path, *lookback)
    changed = newest_changed_orders(tmp_path)
    assert o_b in changed and o_a not in changed, changed
    log = (tmp_path / "logs" / "dbt.log").read_text()
    int_deletes = [ln for ln in log.splitlines() if "int_shopify__orders\" where order_id = any(array[" in ln]
    assert int_deletes and o_b in int_deletes[-1] and o_a not in int_deletes[-1], int_deletes[-1:]
    scoped_test = (tmp_path / "target" / "compiled" / "storeloop" / "models" / "staging" / "shopify"
                   / "_stg_shopify__models.yml" / "unique_stg_shopify__orders_order_id.sql").read_text()
    assert o_b in scoped_test and o_a not in scoped_test, "the nightly test scope re-checked a load already tested"

    # a retry of load A's run (a new transaction: the batch's committed_at moves on) brings A cancelled: read again
    load_like_the_loader(warehouse, [
        ("orders", "", "", None, order(o_a, "#1080", C_ANN, days_ago(0.2), days_ago(0.01), cancelled_at=days_ago(0.01),
                                       financial_status="VOIDED", total_price="12.00")),
        ("order_line_items", "", "", None, line(80, o_a, P_MUG, 1, 1, "12.00"))], "scheduled__load_a")
    build(warehouse, tmp_path, *lookback)
    assert o_a in newest_changed_orders(tmp_path)
    assert warehouse.query(f"select bool_and(is_cancelled) from marts.fct_order_lines where order_id = '{o_a}'") == [
        (True,)
    ]
    # nothing lost on the way: the incremental tables equal a full refresh
    incremental = fct_rows(warehouse)
    build(warehouse, tmp_path, "--full-refresh")
    assert fct_rows(warehouse) == incremental


# ---------------------------------------------------------------------------------------------------------------
# Quality gate: planted defects fail the build and nothing downstream of them is built
# ---------------------------------------------------------------------------------------------------------------


def planted_duplicate_under_another_id() -> list[RawRow]:
    """Order #1003 loaded again under a second id: counting both would double its revenue."""
    return [("orders", RUN_1, "api_bulk", LOADED_1,
             order(gid("Order", 903), "#1003", C_BOB, days_ago(8), days_ago(7), total_price="8.50")),
            ("order_line_items", RUN_1, "api_bulk", LOADED_1, line(903, gid("Order", 903), P_POSTER, 4, 1, "8.50"))]


def planted_null_key() -> list[RawRow]:
    """A line item without its order id."""
    return [("order_line_items", RUN_1, "api_bulk", LOADED_1, line(904, None, P_MUG, 1, 1, "12.00"))]  # type: ignore[arg-type]


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("plant", "failing_test"),
    [
        (planted_duplicate_in_a_load, "expression_is_true_stg_shopify__orders__rows_in_load_1"),
        (planted_duplicate_under_another_id, "unique_combination_of_columns_int_shopify__orders_order_name"),
        (planted_null_key, "not_null_stg_shopify__order_lines_order_id"),
    ],
    ids=["duplicate-order-in-a-load", "duplicate-order-under-another-id", "null-order-key"],
)
def test_a_planted_defect_fails_the_build_before_the_features(warehouse: Warehouse, tmp_path: Path, plant,
                                                              failing_test: str) -> None:
    seed_store(warehouse.dsn_params, extra_rows=plant())

    result = run_dbt(warehouse, tmp_path, "build")

    assert result.returncode != 0, f"dbt build passed with {plant.__name__}:\n{result.stdout[-4000:]}"
    statuses = run_results(tmp_path)
    failed = sorted(uid for uid, s in statuses.items() if s in ("fail", "error"))
    assert any(uid.startswith(f"test.storeloop.{failing_test}") for uid in failed), failed
    for model in FEATURE_TABLES:
        assert statuses[f"model.storeloop.{model}"] == "skipped", (model, statuses[f"model.storeloop.{model}"])


# ---------------------------------------------------------------------------------------------------------------
# Nightly test scope: a nightly build tests what was loaded since the tests last passed; full runs test everything
# ---------------------------------------------------------------------------------------------------------------


def failed_tests(statuses: dict[str, str]) -> list[str]:
    return sorted(uid.split(".")[2] for uid, s in statuses.items() if uid.startswith("test.") and s in ("fail", "error"))


@pytest.mark.timeout(600)
def test_nightly_builds_test_the_new_loads_and_full_builds_test_everything(warehouse: Warehouse,
                                                                        tmp_path: Path) -> None:
    seed_store(warehouse.dsn_params)
    build(warehouse, tmp_path)  # first build: nothing passed before, every row is tested
    passes = dict(warehouse.query("select model, full_scope from marts._dbt_test_passes"))
    assert {"stg_shopify__order_lines", "fct_order_lines", "int_shopify__orders"} <= set(passes), passes

    # An old defect: a line without its order, stamped as loaded before the window (the last pass minus the
    # lookback). A nightly build does not look at it; a full test run does.
    stale = LOADED_1 - timedelta(days=1)
    insert(warehouse, [("order_line_items", "scheduled__run_0", "api_bulk", stale,
                        line(905, None, P_MUG, 1, 1, "12.00"))])  # type: ignore[arg-type]
    # (the shopify_features DAG passes its param as text: 'False' must mean a nightly scope, 'True' everything)
    nightly = build(warehouse, tmp_path, "--vars", "{full_tests: 'False'}")
    assert not failed_tests(nightly)
    sql = (tmp_path / "target" / "run" / "storeloop" / "models" / "staging" / "shopify" /
           "_stg_shopify__models.yml" / "not_null_stg_shopify__order_lines_order_id.sql").read_text()
    assert "order_line_id = any(array[" in sql, sql
    # ...but a duplicate order name pairs a new order with an old one: that test always sees every order
    sql = (tmp_path / "target" / "run" / "storeloop" / "models" / "intermediate" / "_int_shopify__models.yml" /
           "unique_combination_of_columns_int_shopify__orders_order_name.sql").read_text()
    assert "any(array[" not in sql and "exclusion_reason is null" in sql, sql

    result = run_dbt(warehouse, tmp_path, "build", "--vars", "{full_tests: 'True'}")
    assert result.returncode != 0
    assert "not_null_stg_shopify__order_lines_order_id" in failed_tests(run_results(tmp_path))

    # A defect in a new load fails the nightly build, and keeps failing it until it is fixed: a failed test does
    # not move the window.
    with warehouse.connect() as conn, conn.cursor() as cur:
        cur.execute("delete from raw_shopify.order_line_items where _run_id = 'scheduled__run_0'")
    conn.close()
    new_load = NOW - timedelta(minutes=2)
    insert(warehouse, [("order_line_items", "scheduled__run_9", "api_bulk", new_load,
                        line(906, None, P_MUG, 1, 1, "12.00"))])  # type: ignore[arg-type]
    for _ in range(2):
        result = run_dbt(warehouse, tmp_path, "build")
        assert result.returncode != 0
        assert "not_null_stg_shopify__order_lines_order_id" in failed_tests(run_results(tmp_path))
    with warehouse.connect() as conn, conn.cursor() as cur:
        cur.execute("delete from raw_shopify.order_line_items where _run_id = 'scheduled__run_9'")
    conn.close()
    assert not failed_tests(build(warehouse, tmp_path))

    # a new order: the nightly reconciliation of interactions checks its customer (and only the recent customers)
    o_new = gid("Order", 80)
    insert(warehouse, [
        ("orders", "scheduled__run_10", "api_bulk", NOW, order(o_new, "#1080", C_BOB, days_ago(0.01), days_ago(0.01),
                                                               total_price="8.50")),
        ("order_line_items", "scheduled__run_10", "api_bulk", NOW, line(80, o_new, P_POSTER, 4, 1, "8.50")),
    ])
    assert not failed_tests(build(warehouse, tmp_path))
    sql = (tmp_path / "target" / "run" / "storeloop" / "tests" /
           "assert_interactions_reconcile_with_order_lines.sql").read_text()
    scope = next(ln for ln in sql.splitlines() if "customer_id = any(array[" in ln)
    # Bob (new order) and Ann (run 2, within the lookback); not Cat, whose orders were loaded two days ago
    assert f"'{C_BOB}'" in scope and f"'{gid('Customer', 3)}'" not in scope, scope

    # a warning (an unknown financial status: severity warn) does not hold the window: it counts as a pass
    before = warehouse.query("select run_started_at from marts._dbt_test_passes where model = 'stg_shopify__orders'")
    insert(warehouse, [("orders", "scheduled__run_11", "api_bulk", NOW, order(gid("Order", 81), "#1081", C_BOB,
                                                                            days_ago(0.01), days_ago(0.01),
                                                                            financial_status="SOMETHING_NEW",
                                                                            total_price="0.00"))])
    statuses = build(warehouse, tmp_path)
    assert "warn" in {s for uid, s in statuses.items() if "financial_status" in uid}, statuses
    after = warehouse.query("select run_started_at from marts._dbt_test_passes where model = 'stg_shopify__orders'")
    assert after[0][0] > before[0][0]
