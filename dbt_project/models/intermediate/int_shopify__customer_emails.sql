-- Email -> the Shopify customer (GID) it belongs to, for records that know a customer only by email (CSV orders,
-- CSV customers exported without a Customer ID). One row per email. When several customers share an email, the one
-- from the API wins, then the earliest created, then the smallest GID (deterministic).

with

customers as (

    select * from {{ ref('stg_shopify__customers') }}

),

final as (

    select distinct on (email)
        email,
        customer_id

    from customers

    where email is not null
        and customer_id like 'gid://shopify/Customer/%'

    order by email, (source_kind = 'api') desc, created_at nulls last, customer_id

)

select * from final
