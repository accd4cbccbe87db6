-- One row per customer: the latest loaded version (latest updated_at, then latest load). Emails are lower-cased.

with

source as (

    select * from {{ source('shopify', 'customers') }}

),

renamed as (

    select

        ----------  ids
        id as customer_id,

        ---------- text
        nullif(lower(trim(email)), '') as email,

        ---------- timestamps
        created_at,
        updated_at,

        ---------- bookkeeping
        _source,
        _run_id,
        _loaded_at

    from source

),

latest_version as (

    select distinct on (customer_id) *

    from renamed

    order by customer_id, updated_at desc nulls last, _loaded_at desc, _run_id desc

)

select * from latest_version
