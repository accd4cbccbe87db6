-- One row per product id: the best version (API over CSV, then latest updated_at, then latest load).
-- CSV products have ids `csv:product:<handle>`; they are matched to the API product of the same handle in
-- int_shopify__product_keys, not here (staging keeps one row per source id).

with

source as (

    select * from {{ source('shopify', 'products') }}

),

renamed as (

    select

        ----------  ids
        id as product_id,

        ---------- text
        nullif(trim(handle), '') as handle,
        title,
        nullif(trim(product_type), '') as product_type,
        nullif(trim(vendor), '') as vendor,
        lower(nullif(trim(status), '')) as status,

        ---------- timestamps
        created_at,
        updated_at,

        ---------- bookkeeping
        {{ source_kind() }} as source_kind,
        _source,
        _run_id,
        _loaded_at

    from source

),

latest_version as (

    select distinct on (product_id) *

    from renamed

    order by product_id, {{ latest_version_order() }}

)

select * from latest_version
