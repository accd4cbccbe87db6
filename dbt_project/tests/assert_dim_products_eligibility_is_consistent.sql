-- dim_products: a product is eligible exactly when it has no ineligible_reason, and a deleted product never is.
-- Returns the rows that break it (dbt fails the test on any row).

select
    product_id,
    is_eligible,
    ineligible_reason,
    is_deleted

from {{ ref('dim_products') }}

where is_eligible <> (ineligible_reason is null)
    or (is_deleted and is_eligible)
