-- One row per variant id: the best version (API over CSV, then latest updated_at, then latest load).
-- CSV variants have ids `csv:variant:<handle>:<n>` and belong to `csv:product:<handle>`.

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
        nullif(trim(sku), '') as sku,
        title,

        ---------- numerics
        price,

        ---------- stock (null: the source did not say)
        inventory_quantity,
        lower(nullif(trim(inventory_policy), '')) as inventory_policy,
        inventory_tracked,
        available_for_sale,

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

    select distinct on (variant_id) *

    from renamed

    order by variant_id, {{ latest_version_order() }}

)

select * from latest_version
