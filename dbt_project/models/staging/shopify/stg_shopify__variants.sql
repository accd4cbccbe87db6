-- One row per product variant: the latest loaded version (latest updated_at, then latest load).

with

source as (

    select * from {{ source('shopify', 'product_variants') }}

),

renamed as (

    select

        ----------  ids
        id as variant_id,
        product_id,

        ---------- text
        sku,
        title,

        ---------- numerics
        price,

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

    select distinct on (variant_id) *

    from renamed

    order by variant_id, updated_at desc nulls last, _loaded_at desc, _run_id desc

)

select * from latest_version
