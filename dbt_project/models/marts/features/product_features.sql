-- Product features as of the cutoff (var `as_of`, default: the start of the run): one row per product created by
-- the cutoff (or of unknown creation time). Sales count lines of orders placed by the cutoff and not cancelled by
-- it, in the windows (as_of - N days, as_of]. Catalogue attributes (price, type) are the current ones: Shopify
-- keeps no history of them (see docs/features.md). Only the columns the ranker reads are built
-- (include/storeloop/recsys/ranker.py, PRODUCT_COLUMNS and product_type).

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
        customer_id,
        quantity,
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
        count(distinct customer_id) filter (where age_days < 90) as customers_90d

    from sales

    group by product_id

),

lifetime_sales as (

    select
        product_id,
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
        window_sales.customers_90d

    from lifetime_sales

    left join window_sales
        on lifetime_sales.product_id = window_sales.product_id

),

final as (

    select
        products.product_id,
        {{ as_of() }} as as_of,
        products.product_type,
        products.price,
        cast(coalesce(product_sales.units_7d, 0) as integer) as units_7d,
        cast(coalesce(product_sales.units_30d, 0) as integer) as units_30d,
        cast(coalesce(product_sales.units_90d, 0) as integer) as units_90d,
        cast(coalesce(product_sales.customers_90d, 0) as integer) as customers_90d,
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
        cast(floor({{ days_between('product_sales.last_sold_at', as_of()) }}) as integer) as days_since_last_sale

    from products

    left join product_sales
        on products.product_id = product_sales.product_id

    where products.created_at is null
        or products.created_at <= {{ as_of() }}

)

select * from final
