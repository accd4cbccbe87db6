"""What the two parsers of Shopify's files (bulk_jsonl.py: bulk-query JSONL; csv_exports.py: admin CSV exports) share.

Both turn a Shopify record into `(raw table name, typed row, record)`. Who owns the row shape: the warehouse does.
The raw tables and the order of their typed columns are defined by the warehouse's migrations
(`storeloop/warehouse/migrations/0001_raw_shopify.sql`, extended by 0005 for the eligibility columns; mirrored for
the loader by `storeloop.warehouse.raw_schema.RAW_TABLES`, and tested equal to it); the parsers build their tuples in
that order.
This package never imports `storeloop.warehouse` (the warehouse imports the parsers), so the order is written here
by position, and tests/unit/test_bulk_records.py and tests/unit/test_csv_exports.py check every row the parsers build
against RAW_TABLES.
"""

from __future__ import annotations


class MalformedRecord(ValueError):
    """The line cannot become a row; the message says why (it goes to quarantine with the line)."""


# which raw tables the records of each resource fill (a bulk query of the resource, or an export of that kind)
RESOURCE_TABLES: dict[str, tuple[str, ...]] = {
    "products": ("products", "product_variants"),
    "customers": ("customers",),
    "orders": ("orders", "order_line_items"),
}
