-- Raw -> marts reconciliation of order lines: every line item id ever loaded into raw_shopify.order_line_items is
-- either in fct_order_lines or listed with its exclusion reason in int_shopify__order_lines, never both, and the
-- revenue adds up the same way (raw revenue of each line's latest load). Catches lines lost or duplicated by a join,
-- and an incremental fct_order_lines that drifted from what a full rebuild would give.
-- Returns one row per measure that disagrees.
-- A nightly build reconciles the line items loaded since this test last passed (macros/nightly_test_scope.sql);
-- --full-refresh or --vars '{full_tests: true}' reconcile every line.

{%- set scope = nightly_scope_filter('fct_order_lines', 'order_lines') %}

with

raw_versions as (

    select distinct on (id)
        id as order_line_id,
        cast(quantity * unit_price as numeric(14, 2)) as line_revenue

    from {{ source('shopify', 'order_line_items') }}

    order by id, (_source like 'csv\_export%'), _loaded_at desc, _run_id desc, _source desc

),

-- the scope filter on the DISTINCT ON key is pushed down onto the raw rows (one id list for all three sides)
raw_latest as (

    select * from raw_versions

    {% if scope %}where {{ scope }}{% endif %}

),

lines as (

    select order_line_id, line_revenue, exclusion_reason from {{ ref('int_shopify__order_lines') }}

    {% if scope %}where {{ scope }}{% endif %}

),

fct as (

    select order_line_id, line_revenue from {{ ref('fct_order_lines') }}

    {% if scope %}where {{ scope }}{% endif %}

),

excluded as (

    select order_line_id, line_revenue from lines where exclusion_reason is not null

),

kept as (

    select order_line_id, line_revenue from lines where exclusion_reason is null

),

comparison as (

    select
        'lines: raw vs fct_order_lines + excluded' as measure,
        cast((select count(*) from raw_latest) as numeric) as expected,
        cast((select count(*) from fct) + (select count(*) from excluded) as numeric) as actual

    union all

    select
        'revenue: raw vs fct_order_lines + excluded',
        (select coalesce(sum(line_revenue), 0) from raw_latest),
        (select coalesce(sum(line_revenue), 0) from fct) + (select coalesce(sum(line_revenue), 0) from excluded)

    union all

    select
        'lines both in fct_order_lines and excluded',
        0,
        (select count(*) from fct inner join excluded using (order_line_id))

    union all

    select
        'lines in fct_order_lines but not in raw',
        0,
        (select count(*) from fct left join raw_latest using (order_line_id) where raw_latest.order_line_id is null)

    union all

    select
        'kept lines missing from fct_order_lines',
        0,
        (select count(*) from kept left join fct using (order_line_id) where fct.order_line_id is null)

)

select * from comparison

where expected is distinct from actual
