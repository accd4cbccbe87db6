-- Feature state (macros/feature_state.sql): one row per (customer, product) the customer bought in an order that is
-- not cancelled, with what does not depend on the cutoff. fct_customer_product_interactions and customer_features
-- are computed from it. A nightly run recomputes the rows of the customers whose lines changed.
-- strength_at_last_purchase = sum over the pair's orders of 2^(-(last_purchased_at - ordered_at) / half-life): the
-- recency-weighted strength as of the last purchase; at a later cutoff it is this times 2^(-age / half-life).

{%- set half_life = var('interaction_half_life_days') | float %}
{%- set changes = feature_state_changes({'half_life_days': half_life}) %}
{%- set customers = feature_state_customer_filter(changes) %}

{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ feature_state_delete(feature_state_customer_filter(feature_state_changes(
            {'half_life_days': var('interaction_half_life_days') | float}))) }}",
        post_hook=[
            "{{ feature_state_record(feature_state_changes()) }}",
            "analyze {{ this }}",
        ],
        indexes=[{'columns': ['customer_id', 'product_id'], 'unique': true}],
    )
}}

with

order_lines as (

    select * from {{ ref('fct_order_lines') }}

    where not is_cancelled
        and customer_id is not null
        and product_id is not null
        {% if customers is not none %}and {{ customers }}{% endif %}

),

orders as (

    select
        customer_id,
        product_id,
        order_id,
        min(ordered_at) as ordered_at,
        sum(quantity) as quantity,
        sum(line_revenue) as revenue,
        count(*) as n_lines

    from order_lines

    group by customer_id, product_id, order_id

),

orders_with_last as (

    select
        *,
        max(ordered_at) over (partition by customer_id, product_id) as last_purchased_at

    from orders

),

final as (

    select
        customer_id,
        product_id,
        cast(count(*) as integer) as n_orders,
        cast(sum(quantity) as integer) as quantity,
        cast(sum(revenue) as numeric(14, 2)) as revenue,
        min(ordered_at) as first_purchased_at,
        max(last_purchased_at) as last_purchased_at,
        cast(sum(n_lines) as integer) as n_lines,
        sum(power(cast(2.0 as double precision), -{{ days_between('ordered_at', 'last_purchased_at') }} / {{ half_life }}))
            as strength_at_last_purchase,
        cast({{ half_life }} as double precision) as half_life_days

    from orders_with_last

    group by customer_id, product_id

)

select * from final
