-- SKU -> the product (and variant) it sells, for lines that carry only a SKU (CSV exports).
-- One row per non-empty SKU. When several variants share a SKU, the API variant wins, then the most recently
-- updated/loaded one, then the smallest variant id (deterministic).

with

variants as (

    select * from {{ ref('stg_shopify__variants') }}

),

product_keys as (

    select * from {{ ref('int_shopify__product_keys') }}

),

candidates as (

    select
        variants.sku,
        product_keys.product_id,
        variants.variant_id,
        variants.source_kind,
        variants.updated_at,
        variants._loaded_at

    from variants

    inner join product_keys
        on variants.product_id = product_keys.source_product_id

    where variants.sku is not null

),

final as (

    select distinct on (sku)
        sku,
        product_id,
        variant_id

    from candidates

    order by sku, (source_kind = 'api') desc, updated_at desc nulls last, _loaded_at desc, variant_id

)

select * from final
