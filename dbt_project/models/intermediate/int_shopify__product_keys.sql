-- Every product id seen (API GID or CSV `csv:product:<handle>`) -> the product it is (`product_id`).
-- A CSV product whose handle belongs to an API product is that API product (the API GID wins); any other product is
-- itself. If several API products share a handle (Shopify forbids it), the smallest GID is used.

with

products as (

    select * from {{ ref('stg_shopify__products') }}

),

api_handles as (

    select
        handle,
        min(product_id) as api_product_id

    from products

    where source_kind = 'api'
        and handle is not null

    group by handle

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
