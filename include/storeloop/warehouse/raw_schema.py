"""The `raw_shopify` tables: one definition, used by the loader, the tests and (as sources) by dbt.

See docs/contracts.md. Every table keeps the whole source record as JSONB beside a few typed columns, plus the
bookkeeping columns that make a load idempotent per run.
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

    @property
    def qualified_name(self) -> str:
        return f"{RAW_SCHEMA}.{self.name}"

    @property
    def typed_column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    def create_sql(self) -> str:
        cols = [f"{name} {sql_type}" for name, sql_type in self.columns + BOOKKEEPING_COLUMNS]
        return (
            f"create table if not exists {self.qualified_name} (\n    " + ",\n    ".join(cols) + "\n);\n"
            f"create index if not exists {self.name}_run_idx on {self.qualified_name} (_run_id);\n"
            f"create index if not exists {self.name}_id_idx on {self.qualified_name} (id);\n"
            # what changed since a time: the nightly dbt build (fct_order_lines' changed orders, the nightly test
            # scope) reads a few thousand recent rows instead of scanning every load (a batch shares one timestamp,
            # so the index is small and cheap to keep)
            f"create index if not exists {self.name}_loaded_at_idx on {self.qualified_name} (_loaded_at);"
        )


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
    ),
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
    ),
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

QUARANTINE_SQL = f"""
create table if not exists {QUARANTINE_TABLE} (
    run_id text not null,
    source_file text not null,
    line_no integer not null,
    resource text not null,
    reason text not null,
    raw_line text not null,
    quarantined_at timestamptz not null default now()
);
create index if not exists _quarantine_run_file_idx on {QUARANTINE_TABLE} (run_id, source_file);
"""


# One row per committed batch (run, resource, source): what it asked for and loaded. See ingest_state.py.
BATCHES_TABLE = f"{RAW_SCHEMA}._ingest_batches"

BATCHES_SQL = f"""
create table if not exists {BATCHES_TABLE} (
    run_id text not null,
    resource text not null,
    source text not null,
    mode text not null check (mode in ('full', 'incremental', 'backfill', 'export')),
    updated_from timestamptz,
    updated_to timestamptz,
    max_updated_at timestamptz,
    source_file text not null,
    source_sha256 text,
    lines_in integer not null,
    rows_loaded jsonb not null,
    rows_quarantined integer not null,
    committed_at timestamptz not null default now(),
    primary key (run_id, resource, source)
);
create index if not exists _ingest_batches_sha_idx on {BATCHES_TABLE} (source_sha256);
"""


def create_raw_schema_sql() -> str:
    """Idempotent DDL for the whole raw schema, quarantine included."""
    return (
        f"create schema if not exists {RAW_SCHEMA};\n"
        + "\n".join(t.create_sql() for t in RAW_TABLES.values())
        + QUARANTINE_SQL
        + BATCHES_SQL
    )
