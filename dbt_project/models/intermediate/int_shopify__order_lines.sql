-- Every line item id ever loaded (latest version), with its order's facts, its resolved product, and the reason it
-- is left out of fct_order_lines (null for the lines that are in it). Nothing is dropped here: fct_order_lines is
-- exactly the rows with a null exclusion_reason, and a singular test reconciles raw -> fct + excluded.
--
-- exclusion_reason:
--   order_not_loaded         the line's order id is null or was never loaded (also fails a relationships test)
--   duplicate_of_api_order   the line belongs to a CSV order that is an API order exported without its Id
--   superseded_by_api_order  a CSV line of an order whose API version is kept (the API's own lines count instead)
--   removed_from_order       the line was loaded before the kept version of its order, which came without it
--                            (a later edit removed it)
--
-- Product (`product_resolution` says which way, in this order):
--   product_id   the line's own product (API), mapped through int_shopify__product_keys
--   sku          a line without one (CSV): the catalogue product whose variant carries its SKU
--   name         else the catalogue product its line-item name names (int_shopify__name_products)
--   order_sku    else, for a CSV line no catalogue knows (an orders export without a products export, or a product
--                since deleted): a product known only from the order lines, `csv:sku:<sku>`
--   order_name   else, without a SKU: `csv:name:<line-item name, trimmed and lower-cased>`
-- dim_products lists the order-line products too (title from their latest line), so every product_id of
-- fct_order_lines is a dim_products row. An API line without a product (a custom item: the Admin API's catalogue is
-- complete) and a CSV line with neither SKU nor name have no product (null, product_resolution null).

with

lines as (

    select * from {{ ref('stg_shopify__order_lines') }}

),

orders as (

    select * from {{ ref('int_shopify__orders') }}

),

product_keys as (

    select * from {{ ref('int_shopify__product_keys') }}

),

sku_products as (

    select * from {{ ref('int_shopify__sku_products') }}

),

name_products as (

    select * from {{ ref('int_shopify__name_products') }}

),

resolved as (

    select
        lines.order_line_id,
        lines.order_id,
        orders.order_name,
        orders.customer_id,
        coalesce(
            product_keys.product_id,
            lines.product_id,
            sku_products.product_id,
            name_products.product_id,
            case when lines.source_kind = 'csv' then 'csv:sku:' || lines.sku end,
            case when lines.source_kind = 'csv' then 'csv:name:' || lower(nullif(trim(lines.title), '')) end
        ) as product_id,
        case
            when lines.product_id is not null then 'product_id'
            when sku_products.product_id is not null then 'sku'
            when name_products.product_id is not null then 'name'
            when lines.source_kind = 'csv' and lines.sku is not null then 'order_sku'
            when lines.source_kind = 'csv' and nullif(trim(lines.title), '') is not null then 'order_name'
        end as product_resolution,
        coalesce(lines.variant_id, case when lines.product_id is null then sku_products.variant_id end) as variant_id,
        lines.sku,
        lines.title,
        lines.quantity,
        lines.unit_price,
        cast(lines.quantity * lines.unit_price as numeric(14, 2)) as line_revenue,
        orders.ordered_at,
        orders.cancelled_at,
        coalesce(orders.is_cancelled, false) as is_cancelled,
        orders.financial_status,
        coalesce(orders.is_refunded, false) as is_refunded,
        orders.currency_code,
        orders.country_code,
        lines.source_kind as line_source,
        case
            when orders.order_id is null then 'order_not_loaded'
            when orders.exclusion_reason is not null then orders.exclusion_reason
            when lines.source_kind = 'csv' and orders.source_kind = 'api' then 'superseded_by_api_order'
            -- loaded before the kept version of its order, which came without it: a later edit removed it
            -- (a line loaded after its order's kept version, without the order, is kept: nothing says it was removed)
            when lines._loaded_at < orders._loaded_at
                and (lines._run_id is distinct from orders._run_id or lines._source is distinct from orders._source)
                then 'removed_from_order'
        end as exclusion_reason,
        -- the kept order version's load: the incremental watermark of fct_order_lines
        coalesce(orders._loaded_at, lines._loaded_at) as _loaded_at,
        lines._run_id

    from lines

    left join orders
        on lines.order_id = orders.order_id

    left join product_keys
        on lines.product_id = product_keys.source_product_id

    left join sku_products
        on lines.product_id is null
        and lines.sku = sku_products.sku

    left join name_products
        on lines.product_id is null
        and sku_products.sku is null
        and lower(trim(lines.title)) = name_products.name_key

)

select * from resolved
