-- One row per customer key used by the orders (Shopify customer GIDs, and `email:<email>` for buyers known only by
-- email), with where they live and when they first bought (their cohort).
-- First/last order and counts use the kept orders (those of fct_order_lines) that are not cancelled (refunded
-- orders count: the customer did buy). The country is the customer's default address, else the shipping (else billing) country of
-- their latest order.

with

customers as (

    select * from {{ ref('int_shopify__customers') }}

),

orders as (

    -- the orders of fct_order_lines, one row each (cheaper than aggregating its lines)
    select * from {{ ref('int_shopify__orders') }}

    where exclusion_reason is null
        and customer_id is not null

),

customer_orders as (

    select
        customer_id,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at,
        count(*) as n_orders

    from orders

    where not is_cancelled

    group by customer_id

),

latest_order_country as (

    select distinct on (customer_id)
        customer_id,
        country_code

    from orders

    where country_code is not null

    order by customer_id, ordered_at desc, order_id desc

),

final as (

    select
        customers.customer_id,
        customers.email,
        coalesce(customers.country_code, latest_order_country.country_code) as country_code,
        customers.created_at,
        customer_orders.first_order_at,
        cast(date_trunc('month', customer_orders.first_order_at at time zone 'UTC') as date) as cohort_month,
        customer_orders.last_order_at,
        cast(coalesce(customer_orders.n_orders, 0) as integer) as n_orders,
        customers.customer_source

    from customers

    left join customer_orders
        on customers.customer_id = customer_orders.customer_id

    left join latest_order_country
        on customers.customer_id = latest_order_country.customer_id

)

select * from final
