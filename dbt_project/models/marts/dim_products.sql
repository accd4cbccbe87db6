-- One row per product (API and CSV unified: a CSV product with an API product's handle is that product), with its
-- current catalogue attributes, its SKUs and its lowest current variant price; plus the products known only from
-- order lines (fct_order_lines.product_resolution order_sku / order_name: no catalogue record), titled by their
-- latest line.

with

products as (

    select * from {{ ref('stg_shopify__products') }}

),

product_keys as (

    select * from {{ ref('int_shopify__product_keys') }}

),

variants as (

    select * from {{ ref('stg_shopify__variants') }}

),

canonical_products as (

    select products.*

    from products

    inner join product_keys
        on products.product_id = product_keys.source_product_id

    where product_keys.product_id = product_keys.source_product_id

),

-- only the kept record's own variants price the product (a unified CSV product's variants may be stale)
product_prices as (

    select
        product_id,
        min(price) as price

    from variants

    group by product_id

),

-- SKUs from every record of the product (API and CSV), so a SKU found on a CSV line is listed on its product
product_skus as (

    select
        product_keys.product_id,
        array_agg(distinct variants.sku order by variants.sku) as skus

    from variants

    inner join product_keys
        on variants.product_id = product_keys.source_product_id

    where variants.sku is not null

    group by product_keys.product_id

),

catalogue_products as (

    select
        canonical_products.product_id,
        canonical_products.handle,
        canonical_products.title,
        canonical_products.product_type,
        canonical_products.vendor,
        canonical_products.status,
        product_prices.price,
        canonical_products.created_at,
        canonical_products.updated_at,
        coalesce(product_skus.skus, cast(array[] as text[])) as skus,
        canonical_products.source_kind as product_source

    from canonical_products

    left join product_prices
        on canonical_products.product_id = product_prices.product_id

    left join product_skus
        on canonical_products.product_id = product_skus.product_id

),

order_line_products as (

    select distinct on (product_id)
        product_id,
        cast(null as text) as handle,
        title,
        cast(null as text) as product_type,
        cast(null as text) as vendor,
        cast(null as text) as status,
        cast(null as numeric(14, 2)) as price,
        cast(null as timestamptz) as created_at,
        cast(null as timestamptz) as updated_at,
        case when sku is not null then array[sku] else cast(array[] as text[]) end as skus,
        'order_lines' as product_source

    from {{ ref('fct_order_lines') }}

    where product_resolution in ('order_sku', 'order_name')

    order by product_id, ordered_at desc, order_line_id

),

final as (

    select * from catalogue_products

    union all

    select * from order_line_products

)

select * from final
