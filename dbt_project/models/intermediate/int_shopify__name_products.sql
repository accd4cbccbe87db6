-- Line-item name -> the catalogue product it names, for CSV lines whose SKU matches no variant (or that have none).
-- Shopify writes a line item's name as "<product title>" for a product's default variant and
-- "<product title> - <variant title>" otherwise; both forms are keys here, compared trimmed and lower-cased. One row
-- per name: API products win, then the smallest product id (two products with one title: deterministic, not smart).

with

products as (

    select * from {{ ref('stg_shopify__products') }}

),

variants as (

    select * from {{ ref('stg_shopify__variants') }}

),

product_keys as (

    select * from {{ ref('int_shopify__product_keys') }}

),

names as (

    select
        lower(trim(products.title)) as name_key,
        product_keys.product_id,
        products.source_kind

    from products

    inner join product_keys
        on products.product_id = product_keys.source_product_id

    where nullif(trim(products.title), '') is not null

    union all

    select
        lower(trim(products.title) || ' - ' || trim(variants.title)) as name_key,
        product_keys.product_id,
        products.source_kind

    from variants

    inner join products
        on variants.product_id = products.product_id

    inner join product_keys
        on products.product_id = product_keys.source_product_id

    where nullif(trim(products.title), '') is not null
        and nullif(trim(variants.title), '') is not null
        and variants.title <> 'Default Title'

),

final as (

    select distinct on (name_key)
        name_key,
        product_id

    from names

    order by name_key, (source_kind = 'api') desc, product_id

)

select * from final
