-- One row per order id: the best version (API over CSV, then latest updated_at, then latest load), so a later
-- payment, refund or cancellation replaces what an earlier run saw. `_rows_in_load` counts the raw rows of the kept
-- version's load (same id, run and source): more than one means the load duplicated the order, and a test fails.

with

source as (

    select * from {{ source('shopify', 'orders') }}

),

renamed as (

    select

        ----------  ids
        id as order_id,
        customer_id,

        ---------- text
        name,
        nullif(lower(trim(email)), '') as email,
        lower(nullif(trim(financial_status), '')) as financial_status,
        upper(nullif(trim(currency_code), '')) as currency_code,
        {{ country_code("coalesce(_record -> 'shippingAddress' ->> 'countryCodeV2', _record ->> 'Shipping Country')") }}
            as shipping_country_code,
        {{ country_code("coalesce(_record -> 'billingAddress' ->> 'countryCodeV2', _record ->> 'Billing Country')") }}
            as billing_country_code,

        ---------- numerics
        total_price,
        {{ csv_money("_record ->> 'Refunded Amount'") }} as refunded_amount,

        ---------- timestamps
        created_at,
        processed_at,
        updated_at,
        cancelled_at,

        ---------- bookkeeping
        {{ source_kind() }} as source_kind,
        _source,
        _run_id,
        _loaded_at

    from source

),

-- the best version of each id (DISTINCT ON, not row_number() = 1: the planner then knows there is one row per id,
-- and a filter on order_id (the nightly scope) is still pushed down onto the raw rows)
latest_version as (

    select distinct on (order_id)
        *,
        count(*) over (partition by order_id, _run_id, _source) as _rows_in_load

    from renamed

    order by order_id, {{ latest_version_order() }}

)

select
    order_id,
    customer_id,
    name,
    email,
    financial_status,
    currency_code,
    shipping_country_code,
    billing_country_code,
    total_price,
    refunded_amount,
    created_at,
    processed_at,
    updated_at,
    cancelled_at,
    source_kind,
    _source,
    _run_id,
    _loaded_at,
    cast(_rows_in_load as integer) as _rows_in_load

from latest_version
