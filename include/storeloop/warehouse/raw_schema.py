"""The `raw_shopify` tables as the loader sees them: names, and the typed columns in COPY order.

The tables are created by migration 0001 (`migrations/0001_raw_shopify.sql`) and extended by later ones (0005 adds
the eligibility columns of products and variants, and `product_deletions`), applied by `migrations.migrate`; this
module does not create anything. It mirrors those migrations' columns for the loader (which COPYs by column name) and
for the parsers' row order (storeloop/shopify/records.py); tests/integration/test_warehouse_migrations.py checks
that the migrated database has exactly these columns, in this order, with these types, so the two cannot drift. See
docs/contracts.md. Every table keeps the whole source record as JSONB beside a few typed columns, plus the
bookkeeping columns that make a load idempotent per run.

A column added by a later migration (`alter table ... add column`) comes last in the table, after the bookkeeping
columns, but the loader and the parsers see it at the end of the typed columns: `RawTable.appended` names those.
"""

from __future__ import annotations

from dataclasses import dataclass

RAW_SCHEMA = "raw_shopify"

BOOKKEEPING_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_run_id", "text not null"),
    ("_source", "text not null"),
    ("_loaded_at", "timestamptz not null default now()"),
    ("_record", "jsonb not null"),
)


@dataclass(frozen=True)
class RawTable:
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, SQL type) of the typed columns, in COPY order
    appended: tuple[str, ...] = ()  # typed columns a later migration added: in the table, after the bookkeeping ones

    @property
    def qualified_name(self) -> str:
        return f"{RAW_SCHEMA}.{self.name}"

    @property
    def typed_column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    def table_layout(self, bookkeeping: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
        """Every column of the migrated table in its physical order: the typed columns of migration 0001, the
        bookkeeping columns, then the typed columns later migrations appended."""
        first = tuple(c for c in self.columns if c[0] not in self.appended)
        later = tuple(c for c in self.columns if c[0] in self.appended)
        return first + bookkeeping + later


_TS = "timestamptz"
_MONEY = "numeric(14,2)"

PRODUCTS = RawTable(
    "products",
    (
        ("id", "text not null"),
        ("handle", "text"),
        ("title", "text"),
        ("product_type", "text"),
        ("vendor", "text"),
        ("status", "text"),
        ("created_at", _TS),
        ("updated_at", _TS),
        # migration 0005 (eligibility: docs/features.md)
        ("is_gift_card", "boolean"),
        ("is_published", "boolean"),
        ("published_at", _TS),
        ("total_inventory", "integer"),
        ("tracks_inventory", "boolean"),
    ),
    appended=("is_gift_card", "is_published", "published_at", "total_inventory", "tracks_inventory"),
)
PRODUCT_VARIANTS = RawTable(
    "product_variants",
    (
        ("id", "text not null"),
        ("product_id", "text"),
        ("sku", "text"),
        ("title", "text"),
        ("price", _MONEY),
        ("created_at", _TS),
        ("updated_at", _TS),
        # migration 0005
        ("inventory_quantity", "integer"),
        ("inventory_policy", "text"),
        ("inventory_tracked", "boolean"),
        ("available_for_sale", "boolean"),
    ),
    appended=("inventory_quantity", "inventory_policy", "inventory_tracked", "available_for_sale"),
)
CUSTOMERS = RawTable(
    "customers",
    (
        ("id", "text not null"),
        ("email", "text"),
        ("created_at", _TS),
        ("updated_at", _TS),
    ),
)
ORDERS = RawTable(
    "orders",
    (
        ("id", "text not null"),
        ("name", "text"),
        ("customer_id", "text"),
        ("email", "text"),
        ("created_at", _TS),
        ("processed_at", _TS),
        ("updated_at", _TS),
        ("cancelled_at", _TS),
        ("financial_status", "text"),
        ("currency_code", "text"),
        ("total_price", _MONEY),
    ),
)
ORDER_LINE_ITEMS = RawTable(
    "order_line_items",
    (
        ("id", "text not null"),
        ("order_id", "text"),
        ("product_id", "text"),
        ("variant_id", "text"),
        ("sku", "text"),
        ("title", "text"),
        ("quantity", "integer"),
        ("unit_price", _MONEY),
    ),
)

RAW_TABLES: dict[str, RawTable] = {
    t.name: t for t in (PRODUCTS, PRODUCT_VARIANTS, CUSTOMERS, ORDERS, ORDER_LINE_ITEMS)
}


QUARANTINE_TABLE = f"{RAW_SCHEMA}._quarantine"

# One row per committed batch (run, resource, source): what it asked for and loaded. See ingest_state.py.
BATCHES_TABLE = f"{RAW_SCHEMA}._ingest_batches"

# Products a full API pull did not return although an earlier API load had them (migration 0005; written by
# raw_loader.record_product_deletions in the pull's transaction).
PRODUCT_DELETIONS_TABLE = f"{RAW_SCHEMA}.product_deletions"

