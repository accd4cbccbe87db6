-- Every product id seen (API GID or CSV `csv:product:<handle>`) -> the product it is (`product_id`).
-- A CSV product whose handle belongs to an API product is that API product (the API GID wins); any other product is
-- itself. If several API products share a handle (Shopify reuses a deleted product's handle; two live ones cannot
-- share it), the one not deleted is used, then the smallest GID.

with

products as (

    select * from {{ ref('stg_shopify__products') }}

),

deleted_products as (

    select * from {{ ref('int_shopify__deleted_products') }}

),

api_handles as (

    select
        products.handle,
        coalesce(
            min(products.product_id) filter (where deleted_products.product_id is null),
            min(products.product_id)
        ) as api_product_id

    from products

    left join deleted_products
        on products.product_id = deleted_products.product_id

    where products.source_kind = 'api'
        and products.handle is not null

    group by products.handle

),

final as (

    select
        products.product_id as source_product_id,
        coalesce(
            case when products.source_kind = 'csv' then api_handles.api_product_id end,
            products.product_id
        ) as product_id,
        products.source_kind,
        products.handle

    from products

    left join api_handles
        on products.handle = api_handles.handle

)

select * from final
