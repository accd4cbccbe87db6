-- Feature table for the recommender: one row per (customer, product) the customer bought up to the cutoff
-- (var `as_of`, default: the start of the run). Only lines of orders placed by the cutoff and not cancelled by the
-- cutoff, with a customer and a product, count; refunded orders still count (the customer chose the product).
-- recency_weighted_strength = sum over the distinct orders of 2^(-age_days / half_life), age at the cutoff
-- (var `interaction_half_life_days`, default 90): 1.0 for an order placed at the cutoff, 0.5 one half-life earlier.
-- repurchase_interval_days = the customer's average days between two orders of the product (null with one order);
-- order_share = the share of the customer's counted orders that contain the product.

-- A build without an explicit `as_of` computes it from the feature state (macros/feature_state.sql) when that gives
-- the same rows: recency_weighted_strength = strength_at_last_purchase * 2^(-age of the last purchase / half-life).

-- depends_on: {{ ref('feature_state__customer_products') }}
-- depends_on: {{ ref('feature_state__customers') }}

{%- set half_life = var('interaction_half_life_days') | float %}

{% if feature_state_usable(['feature_state__customer_products', 'feature_state__customers']) %}

with

customer_products as (

    select * from {{ ref('feature_state__customer_products') }}

),

customer_orders as (

    select customer_id, frequency as n_customer_orders from {{ ref('feature_state__customers') }}

),

final as (

    select
        customer_products.customer_id,
        product_id,
        n_orders,
        quantity,
        revenue,
        first_purchased_at,
        last_purchased_at,
        n_lines,
        cast(floor({{ days_between('last_purchased_at', as_of()) }}) as integer) as days_since_last_purchase,
        strength_at_last_purchase
            * power(cast(2.0 as double precision), -{{ days_between('last_purchased_at', as_of()) }} / {{ half_life }})
            as recency_weighted_strength,
        {{ repurchase_interval_days('first_purchased_at', 'last_purchased_at', 'n_orders') }}
            as repurchase_interval_days,
        cast(n_orders as double precision) / nullif(customer_orders.n_customer_orders, 0) as order_share,
        {{ as_of() }} as as_of

    from customer_products

    left join customer_orders
        on customer_products.customer_id = customer_orders.customer_id

)

select * from final

{% else %}

with

order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

purchases as (

    select
        *,
        {{ as_of() }} as as_of

    from order_lines

    where ordered_at <= {{ as_of() }}
        and not (is_cancelled and cancelled_at <= {{ as_of() }})
        and customer_id is not null
        and product_id is not null

),

orders as (

    select
        customer_id,
        product_id,
        order_id,
        max(as_of) as as_of,
        min(ordered_at) as ordered_at,
        sum(quantity) as quantity,
        sum(line_revenue) as revenue,
        count(*) as n_lines

    from purchases

    group by customer_id, product_id, order_id

),

customer_orders as (

    select customer_id, count(distinct order_id) as n_customer_orders

    from purchases

    group by customer_id

),

pairs as (

    select
        customer_id,
        product_id,
        cast(count(*) as integer) as n_orders,
        cast(sum(quantity) as integer) as quantity,
        cast(sum(revenue) as numeric(14, 2)) as revenue,
        min(ordered_at) as first_purchased_at,
        max(ordered_at) as last_purchased_at,
        cast(sum(n_lines) as integer) as n_lines,
        cast(floor(min({{ days_between('ordered_at', 'as_of') }})) as integer) as days_since_last_purchase,
        sum(power(cast(2.0 as double precision), -{{ days_between('ordered_at', 'as_of') }} / {{ half_life }}))
            as recency_weighted_strength,
        {{ repurchase_interval_days('min(ordered_at)', 'max(ordered_at)', 'count(*)') }} as repurchase_interval_days,
        max(as_of) as as_of

    from orders

    group by customer_id, product_id

),

final as (

    select
        pairs.customer_id,
        pairs.product_id,
        pairs.n_orders,
        pairs.quantity,
        pairs.revenue,
        pairs.first_purchased_at,
        pairs.last_purchased_at,
        pairs.n_lines,
        pairs.days_since_last_purchase,
        pairs.recency_weighted_strength,
        pairs.repurchase_interval_days,
        cast(pairs.n_orders as double precision) / customer_orders.n_customer_orders as order_share,
        pairs.as_of

    from pairs

    inner join customer_orders
        on pairs.customer_id = customer_orders.customer_id

)

select * from final

{% endif %}
