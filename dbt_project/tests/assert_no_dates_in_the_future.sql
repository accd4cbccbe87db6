-- Nothing can have happened in the future: an order placed, cancelled or first bought after now means a broken
-- timestamp or time zone in the load. Five minutes of tolerance absorb clock skew between Shopify and the warehouse.

select
    'fct_order_lines.ordered_at' as what,
    order_line_id as id,
    ordered_at as at

from {{ ref('fct_order_lines') }}

where ordered_at > current_timestamp + interval '5 minutes'

union all

select
    'fct_order_lines.cancelled_at',
    order_line_id,
    cancelled_at

from {{ ref('fct_order_lines') }}

where cancelled_at > current_timestamp + interval '5 minutes'

union all

select
    'dim_customers.created_at',
    customer_id,
    created_at

from {{ ref('dim_customers') }}

where created_at > current_timestamp + interval '5 minutes'
