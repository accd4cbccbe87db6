-- One row per product (API and CSV unified: a CSV product with an API product's handle is that product), with its
-- current catalogue attributes, its SKUs and its lowest current variant price; plus the products known only from
-- order lines (fct_order_lines.product_resolution order_sku / order_name: no catalogue record), titled by their
-- latest line. And whether the product may be recommended (is_eligible, ineligible_reason): the ONE place that rule
-- is written in SQL; its words are in docs/features.md ("Eligibility") and in the model's yml.

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

deleted_products as (

    select * from {{ ref('int_shopify__deleted_products') }}

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

-- whether the product can be bought now, from the kept record's own variants (like the price): a variant sells when
-- Shopify says so (API availableForSale), else when its stock is not tracked, it sells when out of stock
-- (policy continue) or it has stock; it does not when tracked with no stock under deny (deny is Shopify's default,
-- so an unknown policy counts as deny); otherwise unknown. The product: true if any variant sells; unknown if none
-- does and some are unknown; false if every variant is known not to sell.
variant_stock as (

    select
        product_id,
        case
            when available_for_sale is not null then available_for_sale
            when inventory_tracked = false then true
            when inventory_policy = 'continue' then true
            when inventory_quantity > 0 then true
            when inventory_tracked and inventory_quantity is not null then false
        end as is_sellable

    from variants

),

product_stock as (

    select
        product_id,
        case
            when bool_or(is_sellable) then true
            when count(*) filter (where is_sellable is null) > 0 then null
            else false
        end as is_purchasable

    from variant_stock

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
        canonical_products.source_kind as product_source,
        canonical_products.is_published,
        canonical_products.is_gift_card,
        -- the variants' verdict; without one, the API product totals: untracked or units in stock sell
        coalesce(
            product_stock.is_purchasable,
            case
                when canonical_products.tracks_inventory = false then true
                when canonical_products.total_inventory > 0 then true
            end
        ) as is_purchasable,
        deleted_products.product_id is not null as is_deleted,
        deleted_products.detected_at as deletion_detected_at

    from canonical_products

    left join product_prices
        on canonical_products.product_id = product_prices.product_id

    left join product_stock
        on canonical_products.product_id = product_stock.product_id

    left join product_skus
        on canonical_products.product_id = product_skus.product_id

    left join deleted_products
        on canonical_products.product_id = deleted_products.product_id

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
        'order_lines' as product_source,
        cast(null as boolean) as is_published,
        cast(null as boolean) as is_gift_card,
        cast(null as boolean) as is_purchasable,
        false as is_deleted,
        cast(null as timestamptz) as deletion_detected_at

    from {{ ref('fct_order_lines') }}

    where product_resolution in ('order_sku', 'order_name')

    order by product_id, ordered_at desc, order_line_id

),

all_products as (

    select * from catalogue_products

    union all

    select * from order_line_products

),

-- the first reason that applies, in this order (a null flag means the source did not say: it blocks nothing)
eligibility as (

    select
        *,
        case
            when is_deleted then 'deleted'
            when product_source = 'order_lines' then 'unknown_to_shopify'
            when status <> 'active' then 'not_active'
            when status is null and is_published is null then 'status_unknown'
            when is_published = false then 'unpublished'
            when is_gift_card then 'gift_card'
            when is_purchasable = false then 'out_of_stock'
        end as ineligible_reason

    from all_products

),

final as (

    select
        product_id,
        handle,
        title,
        product_type,
        vendor,
        status,
        price,
        created_at,
        updated_at,
        skus,
        product_source,
        is_published,
        is_gift_card,
        is_purchasable,
        is_deleted,
        deletion_detected_at,
        ineligible_reason is null as is_eligible,
        ineligible_reason

    from eligibility

)

select * from final
