-- Feature table for the recommender: one row per (customer, product) the customer has bought.
-- Only lines of non-cancelled orders with a known customer and product count; refunded orders still count.

with

order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

purchases as (

    select * from order_lines

    where not is_cancelled
        and customer_id is not null
        and product_id is not null

),

final as (

    select
        customer_id,
        product_id,
        cast(count(distinct order_id) as integer) as n_orders,
        cast(sum(quantity) as integer) as quantity,
        cast(sum(line_revenue) as numeric(14, 2)) as revenue,
        min(ordered_at) as first_purchased_at,
        max(ordered_at) as last_purchased_at

    from purchases

    group by customer_id, product_id

)

select * from final
