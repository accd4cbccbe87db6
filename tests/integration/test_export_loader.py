"""Issue #4: every real Shopify export in the fixtures loads into raw_shopify with every record accounted for (loaded
or quarantined, counted in the database, not only in the report); reruns replace; bad files fail naming the file."""

from __future__ import annotations

import gzip
import shutil

import pytest
from support.fixture_files import shopify_export

from storeloop.shopify.csv_exports import ExportFileError
from storeloop.warehouse.export_loader import export_source, load_csv_export

pytestmark = pytest.mark.integration

EXPORTS = {
    "orders_export_devstore.csv": "orders",
    "orders_export_small_store.csv": "orders",
    "products_export_catalogue.csv": "products",
    "products_export_2021_format.csv": "products",
}


def _db_counts(conn, run_id: str) -> dict[str, int]:
    with conn.cursor() as cur:
        out = {}
        for table in ("orders", "order_line_items", "products", "product_variants", "customers"):
            cur.execute(f"select count(*) from raw_shopify.{table} where _run_id = %s", (run_id,))
            out[table] = cur.fetchone()[0]
        cur.execute("select count(*) from raw_shopify._quarantine where run_id = %s", (run_id,))
        out["_quarantine"] = cur.fetchone()[0]
    return out


def _records_folded_into_products(conn, run_id: str) -> int:
    with conn.cursor() as cur:
        cur.execute("select coalesce(sum(jsonb_array_length(_record->'images')), 0) from raw_shopify.products "
                    "where _run_id = %s", (run_id,))
        return int(cur.fetchone()[0])


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_every_fixture_export_is_accounted_for_in_the_database(warehouse_conn, tmp_path, name):
    path = tmp_path / name
    shutil.copy(shopify_export(name), path)
    report = load_csv_export(warehouse_conn, path, run_id="r1")
    counts = _db_counts(warehouse_conn, "r1")
    assert report.lines_in > 0 and report.lines_in == report.lines_loaded + report.rows_quarantined
    assert counts["_quarantine"] == report.rows_quarantined
    if EXPORTS[name] == "orders":
        # one line item per CSV record; the order row rides on its first record
        assert counts["order_line_items"] + counts["_quarantine"] == report.lines_in
        assert 0 < counts["orders"] <= counts["order_line_items"]
    else:
        # a record is a variant row, or an image-only row folded into its product's record
        folded = _records_folded_into_products(warehouse_conn, "r1")
        records_with_a_variant = counts["product_variants"]
        first_rows_without_variant = report.lines_loaded - folded - records_with_a_variant
        assert first_rows_without_variant >= 0
        assert records_with_a_variant + folded + first_rows_without_variant + counts["_quarantine"] == report.lines_in
    with warehouse_conn.cursor() as cur:
        cur.execute("select distinct _source from raw_shopify.orders union select distinct _source from "
                    "raw_shopify.products")
        assert {r[0] for r in cur.fetchall()} == {export_source(path)}

    again = load_csv_export(warehouse_conn, path, run_id="r1")  # a rerun replaces its batch
    assert _db_counts(warehouse_conn, "r1") == counts and again.rows_loaded == report.rows_loaded


def test_the_52_column_catalogue_keeps_every_field(warehouse_conn, tmp_path):
    path = tmp_path / "products_export_catalogue.csv"
    shutil.copy(shopify_export("products_export_catalogue.csv"), path)
    load_csv_export(warehouse_conn, path, run_id="r1")
    with open(path, encoding="utf-8-sig") as fh:
        header = fh.readline().rstrip("\n").split(",")
    with warehouse_conn.cursor() as cur:
        cur.execute("select _record from raw_shopify.product_variants limit 1")
        record = cur.fetchone()[0]
        cur.execute("select count(distinct handle), count(*) from raw_shopify.products")
        handles, products = cur.fetchone()
    assert len(header) == 52 and set(header) <= set(record), "a column of the export was not kept"
    assert handles == products > 1000


def test_malformed_rows_are_quarantined_with_reason_and_line(warehouse_conn, tmp_path):
    src = (shopify_export("orders_export_small_store.csv")).read_text(encoding="utf-8").splitlines(keepends=True)
    header, rows = src[0], src[1:]
    bad = rows[0].replace(",1,", ",one,", 1)  # Lineitem quantity of the first order's first row
    path = tmp_path / "orders_export_bad.csv"
    path.write_text(header + bad + "".join(rows[1:]), encoding="utf-8")
    report = load_csv_export(warehouse_conn, path, run_id="r1")
    assert report.rows_quarantined >= 1 and report.lines_in == report.lines_loaded + report.rows_quarantined
    with warehouse_conn.cursor() as cur:
        cur.execute("select line_no, reason, source_file from raw_shopify._quarantine order by line_no limit 1")
        line_no, reason, source_file = cur.fetchone()
    assert line_no == 2 and "quantity" in reason.lower() and source_file == str(path)


def test_a_file_that_is_not_what_it_claims_fails_naming_it(warehouse_conn, tmp_path):
    wrong = tmp_path / "orders_export_wrong.csv"
    shutil.copy(shopify_export("products_export_2021_format.csv"), wrong)
    with pytest.raises(ExportFileError, match="orders_export_wrong.csv"):
        load_csv_export(warehouse_conn, wrong, run_id="r1")
    truncated = tmp_path / "orders_export_cut.csv.gz"
    data = gzip.compress((shopify_export("orders_export_small_store.csv")).read_bytes())
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ExportFileError, match="orders_export_cut.csv.gz"):
        load_csv_export(warehouse_conn, truncated, run_id="r1")
    assert _db_counts(warehouse_conn, "r1") == dict.fromkeys(
        ("orders", "order_line_items", "products", "product_variants", "customers", "_quarantine"), 0)
