"""Turn one line of a Shopify bulk-query JSONL file into a typed row of a raw table.

Bulk results are flat: nested connection nodes are their own lines carrying `__parentId`. The record's type comes from
its GID (`gid://shopify/<Type>/<n>`), so lines can be mapped one at a time, in constant memory. Rows are tuples in
the column order of the raw tables, which the warehouse owns (see storeloop/shopify/records.py).
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from storeloop.shopify.records import MalformedRecord

_MAX_INTEGER = 2**31 - 1


def gid_type(gid: Any) -> str:
    if not isinstance(gid, str) or not gid.startswith("gid://shopify/"):
        raise MalformedRecord(f"id {gid!r} is not a Shopify GID")
    parts = gid.split("/")
    if len(parts) < 5 or not parts[3] or not parts[4]:
        raise MalformedRecord(f"id {gid!r} is not a Shopify GID")
    return parts[3]


def _ts(record: dict, key: str, required: bool = False) -> str | None:
    value = record.get(key)
    if value is None:
        if required:
            raise MalformedRecord(f"{key} is missing")
        return None
    try:
        datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise MalformedRecord(f"{key}={value!r} is not an ISO 8601 timestamp") from exc
    return str(value)


def _money(value: Any, what: str) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise MalformedRecord(f"{what}={value!r} is not a number") from exc
    if not amount.is_finite():
        raise MalformedRecord(f"{what}={value!r} is not a finite number")
    return amount


def _shop_money(record: dict, key: str) -> Decimal | None:
    node = record.get(key) or {}
    return _money((node.get("shopMoney") or {}).get("amount"), key)


def _ref(record: dict, key: str) -> str | None:
    node = record.get(key)
    return node.get("id") if isinstance(node, dict) else None


def _parent(record: dict) -> str:
    parent = record.get("__parentId")
    if not parent:
        raise MalformedRecord("child record without __parentId")
    return parent


def _int(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MalformedRecord(f"{what}={value!r} is not an integer")
    try:
        number = int(value)
    except ValueError as exc:
        raise MalformedRecord(f"{what}={value!r} is not an integer") from exc
    if abs(number) > _MAX_INTEGER:  # the raw column is a PostgreSQL integer: quarantine, never fail the COPY
        raise MalformedRecord(f"{what}={value!r} is out of range (at most {_MAX_INTEGER:,})")
    return number


def _bool(value: Any, what: str) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise MalformedRecord(f"{what}={value!r} is not true or false")
    return value


def _published(r: dict) -> tuple[bool | None, str | None]:
    """(is_published, published_at): publishedAt null means not published to the Online Store; a record without the
    key (a file from a query that did not select it) says nothing, (None, None)."""
    if "publishedAt" not in r:
        return None, None
    published_at = _ts(r, "publishedAt")
    return published_at is not None, published_at


def product_row(r: dict) -> tuple:
    is_published, published_at = _published(r)
    return (r["id"], r.get("handle"), r.get("title"), r.get("productType"), r.get("vendor"), r.get("status"),
            _ts(r, "createdAt"), _ts(r, "updatedAt", required=True),
            _bool(r.get("isGiftCard"), "isGiftCard"), is_published, published_at,
            _int(r.get("totalInventory"), "totalInventory"), _bool(r.get("tracksInventory"), "tracksInventory"))


def _tracked(r: dict) -> bool | None:
    item = r.get("inventoryItem")
    if item is not None and not isinstance(item, dict):
        raise MalformedRecord(f"inventoryItem={item!r} is not an object")
    return _bool((item or {}).get("tracked"), "inventoryItem.tracked")


def _policy(value: Any) -> str | None:
    if value is None:
        return None
    if value not in ("DENY", "CONTINUE"):
        raise MalformedRecord(f"inventoryPolicy={value!r} is not DENY or CONTINUE")
    return value


def variant_row(r: dict) -> tuple:
    return (r["id"], _parent(r), r.get("sku"), r.get("title"), _money(r.get("price"), "price"), _ts(r, "createdAt"),
            _ts(r, "updatedAt"), _int(r.get("inventoryQuantity"), "inventoryQuantity"),
            _policy(r.get("inventoryPolicy")), _tracked(r), _bool(r.get("availableForSale"), "availableForSale"))


def customer_row(r: dict) -> tuple:
    email = r.get("email")
    return (r["id"], email.lower() if isinstance(email, str) else None, _ts(r, "createdAt"),
            _ts(r, "updatedAt", required=True))


def order_row(r: dict) -> tuple:
    return (r["id"], r.get("name"), _ref(r, "customer"), r.get("email"), _ts(r, "createdAt", required=True),
            _ts(r, "processedAt"), _ts(r, "updatedAt", required=True), _ts(r, "cancelledAt"),
            r.get("displayFinancialStatus"), r.get("currencyCode"), _shop_money(r, "totalPriceSet"))


def line_item_row(r: dict) -> tuple:
    quantity = _int(r.get("quantity"), "quantity")
    if quantity is None:
        raise MalformedRecord("quantity is missing")
    return (r["id"], _parent(r), _ref(r, "product"), _ref(r, "variant"), r.get("sku"), r.get("title"), quantity,
            _shop_money(r, "originalUnitPriceSet"))


# GID type → (raw table name, row builder)
RECORD_TYPES = {
    "Product": ("products", product_row),
    "ProductVariant": ("product_variants", variant_row),
    "Customer": ("customers", customer_row),
    "Order": ("orders", order_row),
    "LineItem": ("order_line_items", line_item_row),
}

def parse_line(line: str, allowed_tables: tuple[str, ...]) -> tuple[str, tuple, dict]:
    """Returns (table, typed row, record). Raises MalformedRecord with the reason."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise MalformedRecord(f"not valid JSON: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(record, dict):
        raise MalformedRecord("a JSON value that is not an object")
    kind = gid_type(record.get("id"))
    if kind not in RECORD_TYPES:
        raise MalformedRecord(f"unexpected record type {kind!r}")
    table, build = RECORD_TYPES[kind]
    if table not in allowed_tables:
        raise MalformedRecord(f"a {kind} record in a file of {', '.join(allowed_tables)}")
    return table, build(record), record
