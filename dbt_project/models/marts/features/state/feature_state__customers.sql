-- Feature state (macros/feature_state.sql): one row per customer with an order line, with what does not depend on
-- the cutoff: their orders that are not cancelled (first, last, count, gross revenue, units; units of lines without
-- a product) and how many orders were cancelled. customer_features is computed from it. A nightly run recomputes
-- the rows of the customers whose lines changed.

{%- set changes = feature_state_changes() %}
{%- set customers = feature_state_customer_filter(changes) %}

{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ feature_state_delete(feature_state_customer_filter(feature_state_changes())) }}",
        post_hook=[
            "{{ feature_state_record(feature_state_changes()) }}",
            "analyze {{ this }}",
        ],
        indexes=[{'columns': ['customer_id'], 'unique': true}],
    )
}}

with

order_lines as (

    select * from {{ ref('fct_order_lines') }}

    where customer_id is not null
        {% if customers is not none %}and {{ customers }}{% endif %}

),

customer_orders as (

    select
        customer_id,
        order_id,
        bool_or(is_cancelled) as is_cancelled,
        min(ordered_at) as ordered_at,
        sum(line_revenue) as revenue,
        sum(quantity) as units,
        sum(quantity) filter (where product_id is null) as units_without_product

    from order_lines

    group by customer_id, order_id

),

final as (

    select
        customer_id,
        min(ordered_at) filter (where not is_cancelled) as first_order_at,
        max(ordered_at) filter (where not is_cancelled) as last_order_at,
        cast(count(*) filter (where not is_cancelled) as integer) as frequency,
        cast(coalesce(sum(revenue) filter (where not is_cancelled), 0) as numeric(14, 2)) as monetary,
        cast(coalesce(sum(units) filter (where not is_cancelled), 0) as integer) as units,
        cast(coalesce(sum(units_without_product) filter (where not is_cancelled), 0) as integer)
            as units_without_product,
        cast(count(*) filter (where is_cancelled) as integer) as n_cancelled_orders

    from customer_orders

    group by customer_id

)

select * from final
