-- The products deleted in Shopify now: a full Admin API pull did not return them, and no load since has brought them
-- again (a load after the detection, e.g. a product that a broken pull missed, undoes it). One row per product GID.
-- Incremental pulls never see a deletion: a product deleted since the last full pull is not here yet.

with

deletions as (

    select * from {{ ref('stg_shopify__product_deletions') }}

),

products as (

    select * from {{ ref('stg_shopify__products') }}

),

final as (

    select
        deletions.product_id,
        deletions.detected_at,
        deletions._run_id as detected_by_run_id

    from deletions

    left join products
        on deletions.product_id = products.product_id

    where products.last_api_loaded_at is null
        or products.last_api_loaded_at < deletions.detected_at

)

select * from final
