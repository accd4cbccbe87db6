-- 0001: the raw_shopify schema shopify_ingest writes and dbt reads as sources (docs/contracts.md, "Warehouse").
-- Every raw table: typed columns (in the order storeloop.warehouse.raw_schema.RAW_TABLES lists them, which the
-- parsers in storeloop/shopify/ build their rows in; tests/integration/test_warehouse_migrations.py checks that the
-- two agree), then the bookkeeping columns _run_id, _source, _loaded_at, _record.
-- `if not exists` throughout: a warehouse created before migrations existed (by the loader's old
-- `create table if not exists`, the same DDL) is adopted as it is.
-- Indexes: _run_id (a rerun deletes its rows), id (staging's latest version), _loaded_at (what changed since a time:
-- the nightly dbt build reads a few thousand recent rows instead of scanning every load).

create schema if not exists raw_shopify;

create table if not exists raw_shopify.products (
    id text not null,
    handle text,
    title text,
    product_type text,
    vendor text,
    status text,
    created_at timestamptz,
    updated_at timestamptz,
    _run_id text not null,
    _source text not null,
    _loaded_at timestamptz not null default now(),
    _record jsonb not null
);
create index if not exists products_run_idx on raw_shopify.products (_run_id);
create index if not exists products_id_idx on raw_shopify.products (id);
create index if not exists products_loaded_at_idx on raw_shopify.products (_loaded_at);

create table if not exists raw_shopify.product_variants (
    id text not null,
    product_id text,
    sku text,
    title text,
    price numeric(14,2),
    created_at timestamptz,
    updated_at timestamptz,
    _run_id text not null,
    _source text not null,
    _loaded_at timestamptz not null default now(),
    _record jsonb not null
);
create index if not exists product_variants_run_idx on raw_shopify.product_variants (_run_id);
create index if not exists product_variants_id_idx on raw_shopify.product_variants (id);
create index if not exists product_variants_loaded_at_idx on raw_shopify.product_variants (_loaded_at);

create table if not exists raw_shopify.customers (
    id text not null,
    email text,
    created_at timestamptz,
    updated_at timestamptz,
    _run_id text not null,
    _source text not null,
    _loaded_at timestamptz not null default now(),
    _record jsonb not null
);
create index if not exists customers_run_idx on raw_shopify.customers (_run_id);
create index if not exists customers_id_idx on raw_shopify.customers (id);
create index if not exists customers_loaded_at_idx on raw_shopify.customers (_loaded_at);

create table if not exists raw_shopify.orders (
    id text not null,
    name text,
    customer_id text,
    email text,
    created_at timestamptz,
    processed_at timestamptz,
    updated_at timestamptz,
    cancelled_at timestamptz,
    financial_status text,
    currency_code text,
    total_price numeric(14,2),
    _run_id text not null,
    _source text not null,
    _loaded_at timestamptz not null default now(),
    _record jsonb not null
);
create index if not exists orders_run_idx on raw_shopify.orders (_run_id);
create index if not exists orders_id_idx on raw_shopify.orders (id);
create index if not exists orders_loaded_at_idx on raw_shopify.orders (_loaded_at);

create table if not exists raw_shopify.order_line_items (
    id text not null,
    order_id text,
    product_id text,
    variant_id text,
    sku text,
    title text,
    quantity integer,
    unit_price numeric(14,2),
    _run_id text not null,
    _source text not null,
    _loaded_at timestamptz not null default now(),
    _record jsonb not null
);
create index if not exists order_line_items_run_idx on raw_shopify.order_line_items (_run_id);
create index if not exists order_line_items_id_idx on raw_shopify.order_line_items (id);
create index if not exists order_line_items_loaded_at_idx on raw_shopify.order_line_items (_loaded_at);

-- every line or CSV record that could not become a row, with its reason (lines in = loaded + quarantined)
create table if not exists raw_shopify._quarantine (
    run_id text not null,
    source_file text not null,
    line_no integer not null,
    resource text not null,
    reason text not null,
    raw_line text not null,
    quarantined_at timestamptz not null default now()
);
create index if not exists _quarantine_run_file_idx on raw_shopify._quarantine (run_id, source_file);

-- one row per committed batch (run, resource, source), written in the batch's own transaction; the watermark of a
-- resource is derived from it (storeloop/warehouse/ingest_state.py)
create table if not exists raw_shopify._ingest_batches (
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
create index if not exists _ingest_batches_sha_idx on raw_shopify._ingest_batches (source_sha256);
