-- 0005: what decides whether a product may be recommended (marts.dim_products: is_eligible, ineligible_reason;
-- docs/features.md "Eligibility"), and the products a full API pull found deleted in Shopify (docs/contracts.md).
-- New typed columns go at the end of their tables, in the order storeloop.warehouse.raw_schema.RAW_TABLES lists them
-- (tests/integration/test_warehouse_migrations.py checks that the two agree). Rows loaded before this migration keep
-- them null: "the source did not say", which dbt treats as not blocking (judged by status only).

-- products: Admin API isGiftCard, publishedAt (null = not published to the Online Store), totalInventory,
-- tracksInventory; is_published is publishedAt's presence for API rows and the `Published` column of a CSV export
alter table raw_shopify.products add column if not exists is_gift_card boolean;
alter table raw_shopify.products add column if not exists is_published boolean;
alter table raw_shopify.products add column if not exists published_at timestamptz;
alter table raw_shopify.products add column if not exists total_inventory integer;
alter table raw_shopify.products add column if not exists tracks_inventory boolean;

-- variants: Admin API inventoryQuantity, inventoryPolicy (DENY / CONTINUE), inventoryItem.tracked, availableForSale;
-- a CSV export's Variant Inventory Qty, Variant Inventory Policy (upper-cased), Variant Inventory Tracker (non-empty =
-- tracked); CSV rows have no available_for_sale
alter table raw_shopify.product_variants add column if not exists inventory_quantity integer;
alter table raw_shopify.product_variants add column if not exists inventory_policy text;
alter table raw_shopify.product_variants add column if not exists inventory_tracked boolean;
alter table raw_shopify.product_variants add column if not exists available_for_sale boolean;

-- products a FULL Admin API pull did not return although an earlier API load had them: deleted in Shopify
-- (incremental pulls never see a deletion). Written by storeloop/warehouse/raw_loader.py in the same transaction as
-- the pull's rows; a rerun of the run replaces its rows. One row per (run, source, product id); a product that a
-- later load brings again is no longer deleted (dbt: int_shopify__deleted_products).
create table if not exists raw_shopify.product_deletions (
    id text not null,                       -- the product's GID
    detected_at timestamptz not null default now(),
    last_loaded_at timestamptz not null,    -- newest _loaded_at of the product's rows before this pull
    last_run_id text not null,              -- the run that loaded that row
    _run_id text not null,                  -- the run whose full pull did not return the product
    _source text not null,                  -- the source of that pull (api_bulk)
    primary key (_run_id, _source, id)
);
create index if not exists product_deletions_id_idx on raw_shopify.product_deletions (id);
