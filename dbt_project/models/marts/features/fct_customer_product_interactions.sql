-- Feature table for the recommender: one row per (customer, product) the customer bought up to the cutoff
-- (var `as_of`, default: the start of the run). Only lines of orders placed by the cutoff and not cancelled by the
-- cutoff, with a customer and a product, count; refunded orders still count (the customer chose the product).
-- recency_weighted_strength = sum over the distinct orders of 2^(-age_days / half_life), age at the cutoff
-- (var `interaction_half_life_days`, default 90): 1.0 for an order placed at the cutoff, 0.5 one half-life earlier.
-- repurchase_interval_days = the customer's average days between two orders of the product (first to last purchase
-- over n_orders - 1; null with one order); order_share = the share of the customer's counted orders that contain
-- the product. Only the columns the ranker reads are built (include/storeloop/recsys/ranker.py, PAIR_COLUMNS).

{%- set half_life = var('interaction_half_life_days') | float %}

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
        sum(quantity) as quantity

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
        cast(floor(min({{ days_between('ordered_at', 'as_of') }})) as integer) as days_since_last_purchase,
        sum(power(cast(2.0 as double precision), -{{ days_between('ordered_at', 'as_of') }} / {{ half_life }}))
            as recency_weighted_strength,
        case when count(*) > 1 then {{ days_between('min(ordered_at)', 'max(ordered_at)') }} / (count(*) - 1) end
            as repurchase_interval_days,
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
