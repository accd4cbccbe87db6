-- Feature state (macros/feature_state.sql): for every ordered pair of products (product_id, other_product_id), the
-- number of orders that are not cancelled and contain both; the diagonal (product_id = other_product_id) is the
-- number of such orders containing the product, and the row ('(orders)', '(orders)') the number of such orders with
-- any product (not a product id: Shopify ids are GIDs, CSV ones `csv:product:<handle>`). product_co_purchase is
-- computed from it.
-- A nightly run applies deltas: for each changed order, -1 for every pair of its basket as this table counted it
-- (the order's lines before its first change since the last applied batch, from the change log) and +1 for every
-- pair of its basket now; pairs whose count drops to 0 are deleted (post-hook).

{%- set changes = feature_state_changes() %}

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['product_id', 'other_product_id'],
        on_schema_change='fail',
        pre_hook="{{ feature_state_delete(none if feature_state_changes().full else 'false') }}",
        post_hook=[
            "{% if is_incremental() %}delete from {{ this }} where pair_count = 0{% else %}select 1{% endif %}",
            "{{ feature_state_record(feature_state_changes()) }}",
            "analyze {{ this }}",
        ],
        indexes=[{'columns': ['product_id', 'other_product_id'], 'unique': true}],
    )
}}

{% if changes.full %}

with

baskets as (

    select distinct
        order_id,
        product_id

    from {{ ref('fct_order_lines') }}

    where not is_cancelled
        and product_id is not null

),

final as (

    select
        a.product_id,
        b.product_id as other_product_id,
        cast(count(*) as integer) as pair_count

    from baskets as a

    inner join baskets as b
        on a.order_id = b.order_id

    group by a.product_id, b.product_id

    union all

    select
        '(orders)',
        '(orders)',
        cast(count(distinct order_id) as integer)

    from baskets

)

select * from final

{% else %}

with

changed_orders as (

    {{ changes.orders }}

),

counted_baskets as (

    -- what this table counted: the order's lines as logged at its first change since the last applied batch
    select distinct
        changes.order_id,
        changes.product_id

    from {{ order_line_changes() }} as changes

    inner join ({{ changes.first }}) as first_change
        on changes.order_id = first_change.order_id
        and changes.batch = first_change.batch

    where changes.product_id is not null
        and not changes.is_cancelled

),

current_baskets as (

    select distinct
        order_id,
        product_id

    from {{ ref('fct_order_lines') }}

    where order_id in (select order_id from changed_orders)
        and not is_cancelled
        and product_id is not null

),

deltas as (

    select a.product_id, b.product_id as other_product_id, -1 as delta
    from counted_baskets as a
    inner join counted_baskets as b on a.order_id = b.order_id

    union all

    select a.product_id, b.product_id as other_product_id, 1 as delta
    from current_baskets as a
    inner join current_baskets as b on a.order_id = b.order_id

    union all

    select '(orders)', '(orders)', -count(distinct order_id) from counted_baskets

    union all

    select '(orders)', '(orders)', count(distinct order_id) from current_baskets

),

changed_pairs as (

    select
        product_id,
        other_product_id,
        sum(delta) as delta

    from deltas

    group by product_id, other_product_id

    having sum(delta) <> 0

),

final as (

    select
        changed_pairs.product_id,
        changed_pairs.other_product_id,
        cast(coalesce(counted.pair_count, 0) + changed_pairs.delta as integer) as pair_count

    from changed_pairs

    left join {{ this }} as counted
        on changed_pairs.product_id = counted.product_id
        and changed_pairs.other_product_id = counted.other_product_id

)

select * from final

{% endif %}
