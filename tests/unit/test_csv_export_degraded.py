"""Exports as merchants really send them (issue 20): the real fixture exports with optional columns dropped still load;
an absent column types as None (never zero), and a file without a required column fails naming what it needs."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from support.export_files import fixture_rows, only_columns, without_columns, write_export
from support.fixture_files import shopify_export

from storeloop.shopify.csv_exports import ExportFileError, ExportRecord, read_export

ORDERS = "orders_export_small_store.csv"  # 811 line items, 409 orders, every one with an Id
PRODUCTS = "products_export_2021_format.csv"
CUSTOMERS = "customers_export_header.csv"  # header only

# orders row: id, name, customer_id, email, created_at, paid_at, updated_at, cancelled_at, financial_status, currency,
# total; line item row: id, order_id, product_id, variant_id, sku, name, quantity, unit_price
EMAIL, FINANCIAL_STATUS, CURRENCY, TOTAL = 3, 8, 9, 10
SKU, UNIT_PRICE = 4, 7


def _rows(records: list[ExportRecord], table: str) -> list[tuple]:
    return [row for r in records for t, row, _ in r.rows if t == table]


def _read(path: Path) -> list[ExportRecord]:
    records = list(read_export(path))
    assert [r.error for r in records if r.error] == []
    return records


def _with(row: tuple, changes: dict[int, object]) -> tuple:
    return tuple(changes.get(i, value) for i, value in enumerate(row))


ORIGINAL = _read(shopify_export(ORDERS))


def test_orders_without_email_are_anonymous(tmp_path: Path) -> None:
    records = _read(without_columns(ORDERS, tmp_path, "Email"))
    assert _rows(records, "orders") == [_with(o, {EMAIL: None}) for o in _rows(ORIGINAL, "orders")]
    assert _rows(records, "order_line_items") == _rows(ORIGINAL, "order_line_items")
    assert all("Email" not in record and record["Name"] for r in records for _, _, record in r.rows)


def test_orders_without_lineitem_price(tmp_path: Path) -> None:
    records = _read(without_columns(ORDERS, tmp_path, "Lineitem price"))
    lines = _rows(records, "order_line_items")
    assert lines == [_with(line, {UNIT_PRICE: None}) for line in _rows(ORIGINAL, "order_line_items")]
    assert _rows(records, "orders") == _rows(ORIGINAL, "orders")


def test_orders_without_total_currency_and_financial_status(tmp_path: Path) -> None:
    # Id is still there: it alone marks the first record of each order
    records = _read(without_columns(ORDERS, tmp_path, "Total", "Currency", "Financial Status"))
    none = dict.fromkeys((FINANCIAL_STATUS, CURRENCY, TOTAL))
    assert _rows(records, "orders") == [_with(o, none) for o in _rows(ORIGINAL, "orders")]
    assert _rows(records, "order_line_items") == _rows(ORIGINAL, "order_line_items")


def test_orders_with_only_name_date_quantity_and_product_name(tmp_path: Path) -> None:
    # no Financial Status, Currency, Total or Id: the first record of each new Name starts its order
    records = _read(only_columns(ORDERS, tmp_path, "Name", "Created at", "Lineitem quantity", "Lineitem name"))
    orders, original_orders = _rows(records, "orders"), _rows(ORIGINAL, "orders")
    assert [o[0] for o in orders] == [f"csv:order:{o[1]}" for o in original_orders]
    assert [(o[1], o[4]) for o in orders] == [(o[1], o[4]) for o in original_orders]
    assert {o[i] for o in orders for i in (EMAIL, 5, 7, FINANCIAL_STATUS, CURRENCY, TOTAL)} == {None}
    lines, original_lines = _rows(records, "order_line_items"), _rows(ORIGINAL, "order_line_items")
    assert len(lines) == len(original_lines) == 811
    assert [line[5:7] for line in lines] == [line[5:7] for line in original_lines]
    assert {(line[SKU], line[UNIT_PRICE]) for line in lines} == {(None, None)}
    assert [line[0] for line in lines[:2]] == [f"csv:line:{orders[0][0]}:1", f"csv:line:{orders[1][0]}:1"]
    assert set(records[0].rows[0][2]) == {"Name", "Created at", "Lineitem quantity", "Lineitem name"}


def test_a_present_order_field_keeps_the_first_record_rule(tmp_path: Path) -> None:
    # with Total in the header, a new Name whose Total is empty is a line item without its order
    _, rows = fixture_rows(ORDERS)
    of_1410 = [i for i, r in enumerate(rows) if r["Name"] == "#1410"]
    assert rows[of_1410[0]]["Total"] and len(of_1410) >= 4
    del rows[of_1410[0]]
    path = write_export(tmp_path / ORDERS, ["Name", "Created at", "Lineitem quantity", "Lineitem sku", "Total"], rows)
    errors = [r.error for r in read_export(path) if r.error]
    assert len(errors) == len(of_1410) - 1
    assert all(e.startswith("order #1410 has no first record (Total empty at line") for e in errors)


def test_products_without_variant_price(tmp_path: Path) -> None:
    original = _read(shopify_export(PRODUCTS))
    records = _read(without_columns(PRODUCTS, tmp_path, "Variant Price"))
    assert _rows(records, "products") == _rows(original, "products")
    assert _rows(records, "product_variants") == [_with(v, {4: None}) for v in _rows(original, "product_variants")]
    assert any(v[4] == Decimal("9.99") for v in _rows(original, "product_variants"))


@pytest.mark.parametrize("kept", [("Customer ID",), ("Email",)])
def test_customers_need_only_an_email_or_a_customer_id(tmp_path: Path, kept: tuple[str, ...]) -> None:
    header, rows = fixture_rows(CUSTOMERS)
    assert rows == []  # the fixture is the real header only: give it a record
    columns = [c for c in header if c in {*kept, "First Name"}]
    path = write_export(tmp_path / CUSTOMERS, columns, [{"Customer ID": "42", "Email": "Ada@Example.com",
                                                         "First Name": "Ada"}])
    (record,) = _read(path)
    expected = ("gid://shopify/Customer/42", None) if kept == ("Customer ID",) else (
        "csv:customer:ada@example.com", "ada@example.com")
    assert record.rows[0][1] == (*expected, None, None)


@pytest.mark.parametrize(("name", "dropped", "missing"), [
    (ORDERS, ("Name",), "'Name'"),
    (ORDERS, ("Created at",), "'Created at'"),
    (ORDERS, ("Lineitem quantity",), "'Lineitem quantity'"),
    (ORDERS, ("Lineitem sku", "Lineitem name"), "'Lineitem sku' or 'Lineitem name'"),
    (PRODUCTS, ("Title",), "'Title'"),
    (CUSTOMERS, ("Customer ID", "Email"), "'Email' or 'Customer ID'"),
])
def test_a_missing_required_column_names_the_file_the_column_and_what_is_required(
        tmp_path: Path, name: str, dropped: tuple[str, ...], missing: str) -> None:
    path = without_columns(name, tmp_path, *dropped)
    required = {
        ORDERS: "'Name', 'Created at', 'Lineitem quantity' and 'Lineitem sku' or 'Lineitem name'",
        PRODUCTS: "'Handle' and 'Title'",
        CUSTOMERS: "'Email' or 'Customer ID'",
    }[name]
    with pytest.raises(ExportFileError) as info:
        read_export(path)  # raised before any record is read
    assert str(info.value).startswith(f"{path}: not a Shopify ")
    assert f"missing column(s) {missing}; " in str(info.value)
    assert f"export needs {required} (" in str(info.value)


def test_either_product_key_is_enough(tmp_path: Path) -> None:
    by_name = _read(without_columns(ORDERS, tmp_path, "Lineitem sku"))
    assert [line[SKU] for line in _rows(by_name, "order_line_items")] == [None] * 811
    by_sku = _read(without_columns(ORDERS, tmp_path, "Lineitem name"))
    assert [line[4:6] for line in _rows(by_sku, "order_line_items")] == [
        (line[SKU], None) for line in _rows(ORIGINAL, "order_line_items")]
