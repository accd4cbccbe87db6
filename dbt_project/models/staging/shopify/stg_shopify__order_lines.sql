-- One row per order line item: the most recently loaded version. Line items have no updated_at of their own; they
-- are reloaded together with their order, so the latest load of a line is the one that came with the latest load
-- of its order.

with

source as (

    select * from {{ source('shopify', 'order_line_items') }}

),

renamed as (

    select

        ----------  ids
        id as order_line_id,
        order_id,
        product_id,
        variant_id,

        ---------- text
        sku,
        title,

        ---------- numerics
        quantity,
        unit_price,

        ---------- bookkeeping
        _source,
        _run_id,
        _loaded_at

    from source

),

latest_version as (

    select distinct on (order_line_id) *

    from renamed

    order by order_line_id, _loaded_at desc, _run_id desc

)

select * from latest_version
