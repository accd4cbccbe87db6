-- Customer features as of the cutoff (var `as_of`, default: the start of the run): one row per customer with at
-- least one order placed by the cutoff and not cancelled by it. Money is gross (before refunds, discounts, tax,
-- shipping): a refund does not undo the preference signal and its timing is not in the data (see docs/features.md).
-- A build without an explicit `as_of` reads the feature state (macros/feature_state.sql) instead of every order
-- line when that gives the same rows; only the 90-day window is read from fct_order_lines.

-- depends_on: {{ ref('feature_state__customers') }}
-- depends_on: {{ ref('feature_state__customer_products') }}

with

{% if feature_state_usable(['feature_state__customers', 'feature_state__customer_products']) -%}

customer_state as (

    select * from {{ ref('feature_state__customers') }}

    where frequency > 0

),

customer_products as (

    select * from {{ ref('feature_state__customer_products') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

last_90d as (

    select
        customer_id,
        count(distinct order_id) as orders_last_90d,
        sum(line_revenue) as revenue_last_90d

    from {{ ref('fct_order_lines') }}

    where ordered_at > {{ as_of() }} - interval '90 days'
        and ordered_at <= {{ as_of() }}
        and not is_cancelled
        and customer_id is not null

    group by customer_id

),

rfm as (

    select
        customer_state.customer_id,
        customer_state.first_order_at,
        customer_state.last_order_at,
        customer_state.frequency,
        customer_state.monetary,
        customer_state.units,
        coalesce(last_90d.orders_last_90d, 0) as orders_last_90d,
        coalesce(last_90d.revenue_last_90d, 0) as revenue_last_90d

    from customer_state

    left join last_90d
        on customer_state.customer_id = last_90d.customer_id

),

cancelled as (

    select
        customer_id,
        n_cancelled_orders

    from customer_state

    where n_cancelled_orders > 0

),

type_units as (

    -- units and distinct products per product type, in one pass over the customer x product state
    select
        customer_id,
        product_type,
        sum(units) as units,
        sum(n_products) as n_products

    from (
        select
            customer_products.customer_id,
            coalesce(products.product_type, '(none)') as product_type,
            customer_products.quantity as units,
            1 as n_products

        from customer_products

        left join products
            on customer_products.product_id = products.product_id

        union all

        select
            customer_id,
            '(none)',
            units_without_product,
            0

        from customer_state

        where units_without_product > 0
    ) as units_by_type

    group by customer_id, product_type

),

distinct_products as (

    select
        customer_id,
        sum(n_products) as n_distinct_products

    from type_units

    group by customer_id

),

{%- else -%}


order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

visible_lines as (

    select
        *,
        is_cancelled and cancelled_at <= {{ as_of() }} as is_cancelled_as_of

    from order_lines

    where ordered_at <= {{ as_of() }}
        and customer_id is not null

),

purchase_lines as (

    select * from visible_lines where not is_cancelled_as_of

),

customer_orders as (

    select
        customer_id,
        order_id,
        min(ordered_at) as ordered_at,
        sum(line_revenue) as revenue,
        sum(quantity) as units

    from purchase_lines

    group by customer_id, order_id

),

cancelled as (

    select
        customer_id,
        count(distinct order_id) as n_cancelled_orders

    from visible_lines

    where is_cancelled_as_of

    group by customer_id

),

rfm as (

    select
        customer_id,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at,
        count(*) as frequency,
        sum(revenue) as monetary,
        sum(units) as units,
        count(*) filter (where ordered_at > {{ as_of() }} - interval '90 days') as orders_last_90d,
        coalesce(sum(revenue) filter (where ordered_at > {{ as_of() }} - interval '90 days'), 0) as revenue_last_90d

    from customer_orders

    group by customer_id

),

type_units as (

    select
        purchase_lines.customer_id,
        coalesce(products.product_type, '(none)') as product_type,
        sum(purchase_lines.quantity) as units

    from purchase_lines

    left join products
        on purchase_lines.product_id = products.product_id

    group by 1, 2

),

distinct_products as (

    select
        customer_id,
        count(distinct product_id) as n_distinct_products

    from purchase_lines

    group by customer_id

),

{%- endif %}

category_mix as (

    select
        customer_id,
        jsonb_object_agg(product_type, round(units / nullif(total_units, 0), 4)) as category_mix,
        count(*) as n_product_types,
        (array_agg(product_type order by units desc, product_type))[1] as top_product_type,
        max(units) / nullif(max(total_units), 0) as top_product_type_share

    from (
        select
            *,
            cast(sum(units) over (partition by customer_id) as numeric) as total_units

        from type_units
    ) as shares

    group by customer_id

),

final as (

    select
        rfm.customer_id,
        {{ as_of() }} as as_of,
        rfm.first_order_at,
        rfm.last_order_at,
        cast(round(cast({{ days_between('rfm.last_order_at', as_of()) }} as numeric), 4) as numeric(12, 4)) as recency_days,
        cast(floor({{ days_between('rfm.last_order_at', as_of()) }}) as integer) as days_since_last_order,
        cast(rfm.frequency as integer) as frequency,
        cast(rfm.monetary as numeric(14, 2)) as monetary,
        cast(round(rfm.monetary / rfm.frequency, 2) as numeric(14, 2)) as average_order_value,
        cast(rfm.units as integer) as units,
        cast(floor({{ days_between('least(coalesce(customers.created_at, rfm.first_order_at), rfm.first_order_at)', as_of()) }}) as integer)
            as tenure_days,
        cast(rfm.orders_last_90d as integer) as orders_last_90d,
        cast(rfm.revenue_last_90d as numeric(14, 2)) as revenue_last_90d,
        cast(coalesce(cancelled.n_cancelled_orders, 0) as integer) as n_cancelled_orders,
        cast(distinct_products.n_distinct_products as integer) as n_distinct_products,
        cast(category_mix.n_product_types as integer) as n_product_types,
        category_mix.top_product_type,
        cast(round(category_mix.top_product_type_share, 4) as numeric(6, 4)) as top_product_type_share,
        category_mix.category_mix,
        cast(ntile(5) over (order by rfm.last_order_at, rfm.customer_id) as integer) as r_score,
        cast(ntile(5) over (order by rfm.frequency, rfm.customer_id) as integer) as f_score,
        cast(ntile(5) over (order by rfm.monetary, rfm.customer_id) as integer) as m_score

    from rfm

    left join customers
        on rfm.customer_id = customers.customer_id

    left join cancelled
        on rfm.customer_id = cancelled.customer_id

    left join distinct_products
        on rfm.customer_id = distinct_products.customer_id

    left join category_mix
        on rfm.customer_id = category_mix.customer_id

)

select * from final
