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


# ---------------------------------------------------------------------------------- eligibility (migration 0005)

PUBLISHED_PRODUCT = {**PRODUCT, "isGiftCard": False, "publishedAt": "2026-01-01T09:00:00Z", "totalInventory": 7,
                     "tracksInventory": True}
STOCKED_VARIANT = {**VARIANT, "inventoryQuantity": -1, "inventoryPolicy": "CONTINUE", "availableForSale": True,
                   "inventoryItem": {"tracked": True}}


def _named(resource: str, record: dict) -> dict:
    table, row, _ = parse_line(json.dumps(record), RESOURCE_TABLES[resource])
    return dict(zip(RAW_TABLES[table].typed_column_names, row, strict=True))


def test_product_publish_fields_become_typed_columns():
    named = _named("products", PUBLISHED_PRODUCT)
    assert (named["is_gift_card"], named["is_published"], named["published_at"], named["total_inventory"],
            named["tracks_inventory"]) == (False, True, "2026-01-01T09:00:00Z", 7, True)
    # publishedAt null: not published to the Online Store (known, not unknown)
    unpublished = _named("products", {**PUBLISHED_PRODUCT, "publishedAt": None, "isGiftCard": True})
    assert (unpublished["is_published"], unpublished["published_at"], unpublished["is_gift_card"]) == (
        False, None, True)
    # a record from a query that did not select the fields (an older landed file): unknown, every one of them
    old = _named("products", PRODUCT)
    assert [old[c] for c in ("is_gift_card", "is_published", "published_at", "total_inventory",
                             "tracks_inventory")] == [None] * 5


def test_variant_stock_fields_become_typed_columns():
    named = _named("products", STOCKED_VARIANT)
    assert (named["inventory_quantity"], named["inventory_policy"], named["inventory_tracked"],
            named["available_for_sale"]) == (-1, "CONTINUE", True, True)
    old = _named("products", VARIANT)
    assert [old[c] for c in ("inventory_quantity", "inventory_policy", "inventory_tracked",
                             "available_for_sale")] == [None] * 4


@pytest.mark.parametrize("record, reason", [
    ({**PUBLISHED_PRODUCT, "isGiftCard": "no"}, "isGiftCard='no' is not true or false"),
    ({**PUBLISHED_PRODUCT, "publishedAt": "soon"}, "publishedAt='soon' is not an ISO 8601 timestamp"),
    ({**PUBLISHED_PRODUCT, "totalInventory": 1.5}, "totalInventory=1.5 is not an integer"),
    ({**PUBLISHED_PRODUCT, "totalInventory": 2**40}, "out of range"),
    ({**STOCKED_VARIANT, "inventoryPolicy": "ALLOW"}, "inventoryPolicy='ALLOW' is not DENY or CONTINUE"),
    ({**STOCKED_VARIANT, "inventoryItem": {"tracked": "yes"}}, "inventoryItem.tracked='yes'"),
    ({**STOCKED_VARIANT, "inventoryItem": [1]}, "inventoryItem=[1] is not an object"),
    ({**STOCKED_VARIANT, "availableForSale": 1}, "availableForSale=1 is not true or false"),
])
def test_malformed_publish_fields_are_rejected_with_a_reason(record, reason):
    with pytest.raises(MalformedRecord, match=reason.replace("[", r"\[").replace("]", r"\]")):
        parse_line(json.dumps(record), RESOURCE_TABLES["products"])
