import json

import pytest

from storeloop.warehouse.bulk_records import RESOURCE_TABLES, MalformedRecord, gid_type, parse_line

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
