-- Product features as of the cutoff (var `as_of`, default: the start of the run): one row per product created by
-- the cutoff (or of unknown creation time). Sales count lines of orders placed by the cutoff and not cancelled by
-- it, in the windows (as_of - N days, as_of]. Catalogue attributes (price, type, vendor, status) are the current
-- ones: Shopify keeps no history of them (see docs/features.md).

with

order_lines as not materialized (

    -- (read twice: not materialized, so each read scans only the columns and rows it needs)
    select * from {{ ref('fct_order_lines') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

sales as (

    -- the windows end at the cutoff and reach back at most 90 days (one day more here: the exact bounds are the
    -- age_days conditions below)
    select
        product_id,
        order_id,
        customer_id,
        quantity,
        line_revenue,
        {{ days_between('ordered_at', as_of()) }} as age_days

    from order_lines

    where ordered_at <= {{ as_of() }}
        and ordered_at > {{ as_of() }} - interval '91 days'
        and not (is_cancelled and cancelled_at <= {{ as_of() }})
        and product_id is not null

),

window_sales as (

    select
        product_id,
        coalesce(sum(quantity) filter (where age_days < 7), 0) as units_7d,
        coalesce(sum(quantity) filter (where age_days < 30), 0) as units_30d,
        coalesce(sum(quantity) filter (where age_days < 90), 0) as units_90d,
        coalesce(sum(quantity) filter (where age_days >= 30 and age_days < 60), 0) as units_prior_30d,
        coalesce(sum(line_revenue) filter (where age_days < 7), 0) as revenue_7d,
        coalesce(sum(line_revenue) filter (where age_days < 30), 0) as revenue_30d,
        coalesce(sum(line_revenue) filter (where age_days < 90), 0) as revenue_90d,
        count(distinct order_id) filter (where age_days < 30) as orders_30d,
        count(distinct customer_id) filter (where age_days < 90) as customers_90d

    from sales

    group by product_id

),

lifetime_sales as (

    select
        product_id,
        sum(quantity) as lifetime_units,
        min(ordered_at) as first_sold_at,
        max(ordered_at) as last_sold_at

    from order_lines

    where ordered_at <= {{ as_of() }}
        and not (is_cancelled and cancelled_at <= {{ as_of() }})
        and product_id is not null

    group by product_id

),

product_sales as (

    select
        lifetime_sales.*,
        window_sales.units_7d,
        window_sales.units_30d,
        window_sales.units_90d,
        window_sales.units_prior_30d,
        window_sales.revenue_7d,
        window_sales.revenue_30d,
        window_sales.revenue_90d,
        window_sales.orders_30d,
        window_sales.customers_90d

    from lifetime_sales

    left join window_sales
        on lifetime_sales.product_id = window_sales.product_id

),

final as (

    select
        products.product_id,
        {{ as_of() }} as as_of,
        products.handle,
        products.title,
        products.product_type,
        products.vendor,
        products.status,
        products.price,
        cast(coalesce(product_sales.units_7d, 0) as integer) as units_7d,
        cast(coalesce(product_sales.units_30d, 0) as integer) as units_30d,
        cast(coalesce(product_sales.units_90d, 0) as integer) as units_90d,
        cast(coalesce(product_sales.revenue_7d, 0) as numeric(14, 2)) as revenue_7d,
        cast(coalesce(product_sales.revenue_30d, 0) as numeric(14, 2)) as revenue_30d,
        cast(coalesce(product_sales.revenue_90d, 0) as numeric(14, 2)) as revenue_90d,
        cast(coalesce(product_sales.orders_30d, 0) as integer) as orders_30d,
        cast(coalesce(product_sales.customers_90d, 0) as integer) as customers_90d,
        cast(coalesce(product_sales.units_prior_30d, 0) as integer) as units_prior_30d,
        cast(
            case
                when coalesce(product_sales.units_30d, 0) + coalesce(product_sales.units_prior_30d, 0) = 0 then 0
                else round(
                    (product_sales.units_30d - product_sales.units_prior_30d)
                    / cast(product_sales.units_30d + product_sales.units_prior_30d as numeric),
                    4
                )
            end as numeric(6, 4)
        ) as trend_30d,
        cast(round(product_sales.revenue_30d / nullif(product_sales.units_30d, 0), 2) as numeric(14, 2))
            as avg_selling_price_30d,
        cast(coalesce(product_sales.lifetime_units, 0) as integer) as lifetime_units,
        product_sales.first_sold_at,
        product_sales.last_sold_at,
        cast(floor({{ days_between('product_sales.last_sold_at', as_of()) }}) as integer) as days_since_last_sale

    from products

    left join product_sales
        on products.product_id = product_sales.product_id

    where products.created_at is null
        or products.created_at <= {{ as_of() }}

)

select * from final
