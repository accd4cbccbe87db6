-- One row per product id some full Admin API pull found deleted in Shopify: its latest detection.
-- int_shopify__deleted_products decides whether it is still deleted (a later load may have brought it again).

with

source as (

    select * from {{ source('shopify', 'product_deletions') }}

),

renamed as (

    select

        ----------  ids
        id as product_id,

        ---------- timestamps
        detected_at,
        last_loaded_at,

        ---------- bookkeeping
        last_run_id,
        _run_id,
        _source

    from source

),

latest_detection as (

    select distinct on (product_id) *

    from renamed

    order by product_id, detected_at desc, _run_id desc, _source desc

)

select * from latest_detection
