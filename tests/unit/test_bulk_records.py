import json

import pytest

from storeloop.shopify.bulk_jsonl import gid_type, parse_line
from storeloop.shopify.records import RESOURCE_TABLES, MalformedRecord
from storeloop.warehouse.raw_schema import RAW_TABLES

ORDER = {
    "id": "gid://shopify/Order/1", "name": "#1001", "email": "a@example.com", "createdAt": "2026-01-02T10:00:00Z",
    "processedAt": "2026-01-02T10:00:00Z", "updatedAt": "2026-01-03T10:00:00Z", "cancelledAt": None,
    "displayFinancialStatus": "PAID", "currencyCode": "EUR", "totalPriceSet": {"shopMoney": {"amount": "12.50"}},
    "customer": {"id": "gid://shopify/Customer/9"},
}
LINE = {"id": "gid://shopify/LineItem/5", "quantity": 2, "sku": "S1", "title": "Tea",
        "originalUnitPriceSet": {"shopMoney": {"amount": "6.25"}}, "product": {"id": "gid://shopify/Product/3"},
        "variant": None, "__parentId": "gid://shopify/Order/1"}


def test_order_and_line_item_map_to_typed_rows():
    table, row, record = parse_line(json.dumps(ORDER), RESOURCE_TABLES["orders"])
    assert table == "orders"
    assert row[0] == "gid://shopify/Order/1" and row[2] == "gid://shopify/Customer/9"
    assert str(row[-1]) == "12.50"
    table, row, _ = parse_line(json.dumps(LINE), RESOURCE_TABLES["orders"])
    assert table == "order_line_items"
    assert row[1] == "gid://shopify/Order/1"  # order id from __parentId
    assert row[2] == "gid://shopify/Product/3" and row[3] is None and row[6] == 2


@pytest.mark.parametrize(
    "line, reason",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not an object"),
        (json.dumps({"id": 7}), "not a Shopify GID"),
        (json.dumps({"id": "gid://shopify/Fulfillment/1"}), "unexpected record type"),
        (json.dumps({**LINE, "__parentId": None}), "without __parentId"),
        (json.dumps({**LINE, "quantity": "two"}), "not an integer"),
        (json.dumps({**ORDER, "updatedAt": "yesterday"}), "not an ISO 8601 timestamp"),
        (json.dumps({**ORDER, "totalPriceSet": {"shopMoney": {"amount": "NaN"}}}), "not a finite number"),
        (json.dumps({"id": "gid://shopify/Product/1", "updatedAt": "2026-01-01T00:00:00Z"}), "in a file of orders"),
    ],
)
def test_malformed_lines_are_rejected_with_a_reason(line, reason):
    with pytest.raises(MalformedRecord, match=reason):
        parse_line(line, RESOURCE_TABLES["orders"])


def test_gid_type():
    assert gid_type("gid://shopify/ProductVariant/12") == "ProductVariant"
    with pytest.raises(MalformedRecord):
        gid_type("gid://shopify/")


PRODUCT = {"id": "gid://shopify/Product/3", "handle": "tea", "title": "Tea", "productType": "Drinks", "vendor": "V",
           "status": "ACTIVE", "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-02T00:00:00Z"}
VARIANT = {"id": "gid://shopify/ProductVariant/4", "sku": "S1", "title": "Default", "price": "6.25",
           "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-02T00:00:00Z",
           "__parentId": "gid://shopify/Product/3"}
CUSTOMER = {"id": "gid://shopify/Customer/9", "email": "A@Example.com", "createdAt": "2026-01-01T00:00:00Z",
            "updatedAt": "2026-01-02T00:00:00Z"}


@pytest.mark.parametrize("resource, record, expected_table", [
    ("products", PRODUCT, "products"), ("products", VARIANT, "product_variants"),
    ("customers", CUSTOMER, "customers"), ("orders", ORDER, "orders"),
    ("orders", LINE, "order_line_items"),
])
def test_rows_have_the_raw_tables_columns_in_order(resource, record, expected_table):
    """The warehouse owns the raw tables' column order (raw_schema.RAW_TABLES, tested equal to the migrated
    database); the parser builds its tuples by position, so every row must match it: id first, one value a column."""
    table, row, _ = parse_line(json.dumps(record), RESOURCE_TABLES[resource])
    assert table == expected_table
    assert len(row) == len(RAW_TABLES[table].columns)
    assert RAW_TABLES[table].typed_column_names[0] == "id" and row[0] == record["id"]
    named = dict(zip(RAW_TABLES[table].typed_column_names, row, strict=True))
    if "updated_at" in named:
        assert named["updated_at"] == record["updatedAt"]
    if table == "customers":
        assert named["email"] == "a@example.com"


def test_resource_tables_are_raw_tables():
    assert {t for tables in RESOURCE_TABLES.values() for t in tables} == set(RAW_TABLES)
