"""Issue #5: `dbt build` is green on the real Shopify exports of the fixtures, loaded the way shopify_ingest loads them
(storeloop.warehouse.export_loader), and every line item of the exports is accounted for in the marts: in
fct_order_lines, or in intermediate.int_shopify__order_lines with its exclusion reason.

The two orders exports come from two different stores (their order names overlap), so each store is built on its own.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg2
import pytest
from support.dbt_warehouse import Warehouse, run_dbt, run_results
from support.fixture_files import shopify_export

from storeloop.warehouse.export_loader import load_csv_export

pytestmark = pytest.mark.integration

STORES = {
    "small_store": ["orders_export_small_store.csv", "customers_export_header.csv",
                    "customers_export_header_legacy.csv"],
    "devstore_and_catalogues": ["orders_export_devstore.csv", "products_export_catalogue.csv",
                                "products_export_2021_format.csv"],
}


def _load_exports(warehouse: Warehouse, tmp_path: Path, names: list[str]) -> int:
    """Load every file as its own run; return the number of CSV records read (lines in)."""
    conn = psycopg2.connect(**warehouse.dsn_params)
    lines_in = 0
    try:
        for n, name in enumerate(names):
            path = tmp_path / name
            shutil.copy(shopify_export(name), path)
            report = load_csv_export(conn, path, run_id=f"manual__exports_{n}")
            assert report.rows_quarantined == 0, f"{name}: {report.rows_quarantined} rows quarantined"
            lines_in += report.lines_in
    finally:
        conn.close()
    return lines_in


@pytest.mark.timeout(420)
@pytest.mark.parametrize("store", sorted(STORES))
def test_dbt_build_is_green_on_the_fixture_exports(warehouse: Warehouse, tmp_path: Path, store: str) -> None:
    _load_exports(warehouse, tmp_path, STORES[store])

    result = run_dbt(warehouse, tmp_path, "build")
    assert result.returncode == 0, f"dbt build failed on {store}:\n{result.stdout[-6000:]}"
    statuses = run_results(tmp_path)
    assert statuses and set(statuses.values()) <= {"success", "pass", "no-op"}, {
        k: v for k, v in statuses.items() if v not in ("success", "pass", "no-op")
    }

    [(raw_lines,)] = warehouse.query("select count(distinct id) from raw_shopify.order_line_items")
    [(fct_lines, fct_orders)] = warehouse.query(
        "select count(*), count(distinct order_id) from marts.fct_order_lines"
    )
    excluded = dict(warehouse.query(
        "select exclusion_reason, count(*) from intermediate.int_shopify__order_lines "
        "where exclusion_reason is not null group by 1"
    ))
    assert fct_lines > 0 and fct_lines + sum(excluded.values()) == raw_lines, (fct_lines, excluded, raw_lines)
    [(raw_orders,)] = warehouse.query("select count(distinct id) from raw_shopify.orders")
    assert fct_orders == raw_orders
    [(customers,)] = warehouse.query("select count(*) from marts.customer_features")
    assert customers > 0
    if store == "devstore_and_catalogues":
        [(products,)] = warehouse.query("select count(*) from marts.dim_products")
        assert products > 1900  # 1,943 products in the catalogue alone, plus the 2021-format export's


RESOLUTION_HEADER = ["Name", "Email", "Financial Status", "Currency", "Total", "Created at", "Lineitem quantity",
                     "Lineitem name", "Lineitem price", "Lineitem sku"]
KURTA = "Women's 100% Undyed Organic Cotton Kurta With Embroidered \"Aum\" - Undyed"
# (order name, line-item name, SKU) -> (product_resolution, product_id) expected; the products are the catalogue's
RESOLUTION_LINES = {
    ("#1", "Copper pendant, renamed since", "0111016 L"):
        ("sku", "csv:product:linga-bhairavi-copper-pendant-large"),
    ("#2", f"{KURTA} - S", ""): ("name", "csv:product:womens-100-undyed-organic-cotton-kurta-with-embroidered-aum-undyed"),
    ("#3", "RAGI dosa Mix 200g", ""): ("name", "csv:product:ragi-dosa-mix-200g"),
    ("#4", "Mystery box", "NO-SUCH-SKU"): ("order_sku", "csv:sku:NO-SUCH-SKU"),
    ("#5", "Gift Wrap", ""): ("order_name", "csv:name:gift wrap"),
    ("#6", "Gift wrap", ""): ("order_name", "csv:name:gift wrap"),
}


def test_lines_resolve_their_product_by_sku_then_name_then_as_order_line_products(warehouse: Warehouse,
                                                                                  tmp_path: Path) -> None:
    import csv

    orders = tmp_path / "orders_export_resolution.csv"
    with open(orders, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(RESOLUTION_HEADER)
        for (name, title, sku) in RESOLUTION_LINES:
            writer.writerow([name, "a@example.com", "paid", "USD", "10.00", "2025-12-01 10:00:00 -0500", "1", title,
                             "10.00", sku])
    _load_exports(warehouse, tmp_path, ["products_export_catalogue.csv"])
    with psycopg2.connect(**warehouse.dsn_params) as conn:
        load_csv_export(conn, orders, run_id="manual__orders")
    conn.close()

    result = run_dbt(warehouse, tmp_path, "build")
    assert result.returncode == 0, result.stdout[-6000:]
    got = dict(((name, title, sku), (resolution, product_id)) for name, title, sku, resolution, product_id in
               warehouse.query("select order_name, title, coalesce(sku, ''), product_resolution, product_id "
                               "from marts.fct_order_lines"))
    assert got == RESOLUTION_LINES
    assert warehouse.query("select product_id, title, skus, product_source from marts.dim_products "
                           "where product_source = 'order_lines' order by 1") == [
        ("csv:name:gift wrap", "Gift Wrap", [], "order_lines"),  # both lines at the same time: the first line id
        ("csv:sku:NO-SUCH-SKU", "Mystery box", ["NO-SUCH-SKU"], "order_lines")]
