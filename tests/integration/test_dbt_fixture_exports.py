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
