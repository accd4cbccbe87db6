-- One row per order line item, with the order facts a line needs (who, when, cancelled or not).
-- Cancelled orders are kept and flagged (is_cancelled); refunded orders are kept as they are (see the model's yml).

with

order_lines as (

    select * from {{ ref('stg_shopify__order_lines') }}

),

orders as (

    select * from {{ ref('stg_shopify__orders') }}

),

final as (

    select
        order_lines.order_line_id,
        order_lines.order_id,
        orders.name as order_name,
        orders.customer_id,
        order_lines.product_id,
        order_lines.variant_id,
        order_lines.quantity,
        order_lines.unit_price,
        cast(order_lines.quantity * order_lines.unit_price as numeric(14, 2)) as line_revenue,
        coalesce(orders.processed_at, orders.created_at) as ordered_at,
        orders.cancelled_at is not null as is_cancelled

    from order_lines

    -- Lines whose order was never loaded have no customer or date; stg_shopify__order_lines' relationships test
    -- fails the build on them, so the inner join drops nothing in a green build.
    inner join orders
        on order_lines.order_id = orders.order_id

)

select * from final
