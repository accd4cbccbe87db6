-- One row per order: the latest loaded version (latest updated_at, then latest load), so a later payment, refund
-- or cancellation replaces what an earlier run saw. Emails and financial statuses are lower-cased (the Admin API
-- says `PAID`, CSV exports say `paid`).

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
        lower(financial_status) as financial_status,
        currency_code,

        ---------- numerics
        total_price,

        ---------- timestamps
        created_at,
        processed_at,
        updated_at,
        cancelled_at,

        ---------- bookkeeping
        _source,
        _run_id,
        _loaded_at

    from source

),

latest_version as (

    select distinct on (order_id) *

    from renamed

    order by order_id, updated_at desc nulls last, _loaded_at desc, _run_id desc

)

select * from latest_version
