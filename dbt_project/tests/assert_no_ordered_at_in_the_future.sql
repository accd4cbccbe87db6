-- An order cannot have been placed in the future: that means a broken timestamp or time zone in the load.
-- Five minutes of tolerance absorb clock skew between Shopify and the warehouse.

select
    order_line_id,
    order_id,
    ordered_at

from {{ ref('fct_order_lines') }}

where ordered_at > current_timestamp + interval '5 minutes'
