-- The feature table must account for exactly the eligible lines of fct_order_lines: lines of orders placed by the
-- cutoff and not cancelled by it, with a customer and a product. Returns one row per measure that disagrees (units,
-- orders, pairs).
-- A nightly build reconciles the customers of the line items loaded since this test last passed
-- (macros/nightly_test_scope.sql); --full-refresh or --vars '{full_tests: true}' reconcile every customer.

{%- set scope = nightly_customer_scope_filter('fct_customer_product_interactions') %}

with

eligible_lines as (

    select * from {{ ref('fct_order_lines') }}

    where ordered_at <= {{ as_of() }}
        and not (is_cancelled and cancelled_at <= {{ as_of() }})
        and customer_id is not null
        and product_id is not null
        {% if scope %}and {{ scope }}{% endif %}

),

from_lines as (

    select
        coalesce(sum(quantity), 0) as quantity,
        count(distinct (customer_id, product_id, order_id)) as n_orders,
        count(distinct (customer_id, product_id)) as n_pairs

    from eligible_lines

),

from_interactions as (

    select
        coalesce(sum(quantity), 0) as quantity,
        coalesce(sum(n_orders), 0) as n_orders,
        count(*) as n_pairs

    from {{ ref('fct_customer_product_interactions') }}

    {% if scope %}where {{ scope }}{% endif %}

),

comparison as (

    select 'quantity' as measure, from_lines.quantity as in_order_lines, from_interactions.quantity as in_interactions
    from from_lines cross join from_interactions

    union all

    select 'n_orders', from_lines.n_orders, from_interactions.n_orders
    from from_lines cross join from_interactions

    union all

    select 'n_pairs', from_lines.n_pairs, from_interactions.n_pairs
    from from_lines cross join from_interactions

)

select * from comparison

where in_order_lines is distinct from in_interactions
