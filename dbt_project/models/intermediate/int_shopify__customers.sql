-- One row per customer key (`customer_id` as used by the orders): Shopify customer GIDs, and `email:<email>` for
-- buyers known only by email (CSV). Built from the customer records and from every key an order uses, so an order's
-- customer always has a row even when the customer record itself was never loaded.
--
-- A customer record exported without a Customer ID (`csv:customer:<email>`) is the customer GID with that email,
-- else `email:<email>`. When several records map to one key, the API record wins, then a CSV record with a GID,
-- then the latest loaded.

with

customers as (

    select * from {{ ref('stg_shopify__customers') }}

),

customer_emails as (

    select * from {{ ref('int_shopify__customer_emails') }}

),

orders as (

    select * from {{ ref('int_shopify__orders') }}

),

customer_records as (

    select
        case
            when customers.customer_id not like 'csv:%' then customers.customer_id
            else coalesce(customer_emails.customer_id, 'email:' || customers.email, customers.customer_id)
        end as customer_id,
        customers.customer_id as source_customer_id,
        customers.email,
        customers.country_code,
        customers.created_at,
        customers.source_kind,
        customers._loaded_at

    from customers

    left join customer_emails
        on customers.customer_id like 'csv:%'
        and customers.email = customer_emails.email

),

best_record as (

    select distinct on (customer_id) *

    from customer_records

    order by
        customer_id,
        (source_kind = 'api') desc,
        (source_customer_id = customer_id) desc,
        _loaded_at desc,
        source_customer_id

),

order_keys as (

    select distinct
        customer_id,
        email

    from orders

    where customer_id is not null
        and exclusion_reason is null

),

order_only_keys as (

    select distinct on (order_keys.customer_id)
        order_keys.customer_id,
        order_keys.email

    from order_keys

    left join best_record
        on order_keys.customer_id = best_record.customer_id

    where best_record.customer_id is null

    order by order_keys.customer_id, order_keys.email nulls last

),

final as (

    select
        customer_id,
        email,
        country_code,
        created_at,
        case when source_kind = 'api' then 'api' else 'csv_export' end as customer_source

    from best_record

    union all

    select
        customer_id,
        coalesce(email, case when customer_id like 'email:%' then substr(customer_id, 7) end) as email,
        null as country_code,
        null as created_at,
        case when customer_id like 'email:%' then 'email_only' else 'orders_only' end as customer_source

    from order_only_keys

)

select * from final
