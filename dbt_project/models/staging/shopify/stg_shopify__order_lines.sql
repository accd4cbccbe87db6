-- One row per line item id: its most recently loaded version. Line items have no updated_at of their own; they are
-- loaded together with their order, so int_shopify__order_lines keeps a line only when it came with the kept version
-- of its order (same run and source). `_rows_in_load` counts the raw rows of the kept version's load (same id, run
-- and source): more than one means the load duplicated the line, and a test fails.
-- CSV line ids are `csv:line:<order id>:<n>`; their product_id and variant_id are null (resolved by SKU later).

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
        nullif(trim(sku), '') as sku,
        title,

        ---------- numerics
        quantity,
        unit_price,

        ---------- bookkeeping
        {{ source_kind() }} as source_kind,
        _source,
        _run_id,
        _loaded_at

    from source

),

-- the latest version of each id. order_id leads the DISTINCT ON and the window partition (a line item id belongs to
-- one order): a filter on order_id or order_line_id (the nightly fct_order_lines and the nightly tests read only what
-- changed) is pushed below them onto the raw table instead of ranking every line ever loaded. DISTINCT ON, not
-- row_number() = 1: the planner then knows there is one row per id (a misestimate made a nightly test's join loop).
latest_version as (

    select distinct on (order_id, order_line_id)
        *,
        count(*) over (partition by order_id, order_line_id, _run_id, _source) as _rows_in_load

    from renamed

    order by order_id, order_line_id, (source_kind = 'api') desc, _loaded_at desc, _run_id desc, _source desc

)

select
    order_line_id,
    order_id,
    product_id,
    variant_id,
    sku,
    title,
    quantity,
    unit_price,
    source_kind,
    _source,
    _run_id,
    _loaded_at,
    cast(_rows_in_load as integer) as _rows_in_load

from latest_version
