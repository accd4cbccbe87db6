-- Customer features as of the cutoff (var `as_of`, default: the start of the run): one row per customer with at
-- least one order placed by the cutoff and not cancelled by it. Money is gross (before refunds, discounts, tax,
-- shipping): a refund does not undo the preference signal and its timing is not in the data (see docs/features.md).
-- Only the columns the ranker reads are built (include/storeloop/recsys/ranker.py, CUSTOMER_COLUMNS).

with

order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

purchase_lines as (

    select *

    from order_lines

    where ordered_at <= {{ as_of() }}
        and not (is_cancelled and cancelled_at <= {{ as_of() }})
        and customer_id is not null

),

customer_orders as (

    select
        customer_id,
        order_id,
        min(ordered_at) as ordered_at,
        sum(line_revenue) as revenue

    from purchase_lines

    group by customer_id, order_id

),

rfm as (

    select
        customer_id,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at,
        count(*) as frequency,
        sum(revenue) as monetary,
        count(*) filter (where ordered_at > {{ as_of() }} - interval '90 days') as orders_last_90d

    from customer_orders

    group by customer_id

),

distinct_products as (

    select
        customer_id,
        count(distinct product_id) as n_distinct_products

    from purchase_lines

    group by customer_id

),

final as (

    select
        rfm.customer_id,
        {{ as_of() }} as as_of,
        cast(round(cast({{ days_between('rfm.last_order_at', as_of()) }} as numeric), 4) as numeric(12, 4)) as recency_days,
        cast(rfm.frequency as integer) as frequency,
        cast(rfm.monetary as numeric(14, 2)) as monetary,
        cast(round(rfm.monetary / rfm.frequency, 2) as numeric(14, 2)) as average_order_value,
        cast(floor({{ days_between('least(coalesce(customers.created_at, rfm.first_order_at), rfm.first_order_at)', as_of()) }}) as integer)
            as tenure_days,
        cast(rfm.orders_last_90d as integer) as orders_last_90d,
        cast(distinct_products.n_distinct_products as integer) as n_distinct_products

    from rfm

    left join customers
        on rfm.customer_id = customers.customer_id

    left join distinct_products
        on rfm.customer_id = distinct_products.customer_id

)

select * from final
