-- One row per product: the latest loaded version (latest updated_at, then latest load).

with

source as (

    select * from {{ source('shopify', 'products') }}

),

renamed as (

    select

        ----------  ids
        id as product_id,

        ---------- text
        handle,
        title,
        product_type,
        vendor,
        lower(status) as status,

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

    select distinct on (product_id) *

    from renamed

    order by product_id, updated_at desc nulls last, _loaded_at desc, _run_id desc

)

select * from latest_version
