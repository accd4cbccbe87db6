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

        ---------- publication (null: the source did not say)
        is_published,
        published_at,
        is_gift_card,

        ---------- stock (API product totals; null for CSV rows)
        total_inventory,
        tracks_inventory,

        ---------- timestamps
        created_at,
        updated_at,

        ---------- bookkeeping
        {{ source_kind() }} as source_kind,
        _source,
        _run_id,
        _loaded_at,
        -- the newest Admin API load of this id, whichever version is kept (a deletion detected before it is undone)
        max(case when {{ source_kind() }} = 'api' then _loaded_at end) over (partition by id) as last_api_loaded_at

    from source

),

latest_version as (

    select distinct on (product_id) *

    from renamed

    order by product_id, {{ latest_version_order() }}

)

select * from latest_version
