-- One row per product with its current catalogue attributes and its lowest current variant price.

with

products as (

    select * from {{ ref('stg_shopify__products') }}

),

variants as (

    select * from {{ ref('stg_shopify__variants') }}

),

product_prices as (

    select
        product_id,
        min(price) as price

    from variants

    group by product_id

),

final as (

    select
        products.product_id,
        products.handle,
        products.title,
        products.product_type,
        products.vendor,
        products.status,
        product_prices.price,
        products.created_at

    from products

    left join product_prices
        on products.product_id = product_prices.product_id

)

select * from final
