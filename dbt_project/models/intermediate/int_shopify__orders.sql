-- One row per order id with the order facts the marts need, API and CSV unified:
--   * customer_id: the API's customer (null for a guest checkout); for a CSV order (which carries only an email) the
--     customer GID with that email, else the key `email:<email>`; null when a CSV order has no email either;
--   * ordered_at: processed_at, else created_at;  is_cancelled: cancelled_at set;  is_refunded: (partially) refunded;
--   * country_code: shipping country, else billing country;
--   * exclusion_reason: `duplicate_of_api_order` for a CSV order exported without an Id (`csv:order:<name>`) whose
--     name is an API order's: it is the same order, and the API version is kept. Null for every kept order.
--
-- Incremental (macros/order_lines_incremental.sql): a nightly run recomputes the orders with a raw row loaded since
-- the newest one in the table (minus the lookback) and every CSV order (their customer resolution and duplicate check
-- depend on other records); the pre-hook deletes them first, in the same transaction.

-- post-hook `analyze`: fresh statistics for the models that read this table next in the same run (an incremental
-- write does not analyze, and autovacuum may come too late); then record which invocation built it, so the next
-- run's lookback skips the raw loads this one saw (macros/raw_batches_seen.sql).

{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook="{{ int_orders_delete_changed() }}",
        post_hook=["analyze {{ this }}", "{{ record_raw_batches_applied() }}"],
        indexes=[{'columns': ['order_id']}],
    )
}}

with

orders as (

    select * from {{ ref('stg_shopify__orders') }}

    {% if is_incremental() %}
    where {{ int_orders_changed_filter() }}
    {% endif %}

),

customer_emails as (

    select * from {{ ref('int_shopify__customer_emails') }}

),

api_order_names as (

    select
        name,
        min(order_id) as api_order_id

    from (
        select name, order_id
        from orders
        where source_kind = 'api'
            and name is not null

        {% if is_incremental() %}
        -- the API orders that did not change are in the table (the pre-hook removed the changed ones)
        union all

        select order_name, order_id
        from {{ this }}
        where source_kind = 'api'
            and order_name in (select name from orders where source_kind = 'csv')
        {% endif %}
    ) as api_orders

    group by name

),

final as (

    select
        orders.order_id,
        orders.name as order_name,
        case
            when orders.source_kind = 'api' then orders.customer_id
            else coalesce(orders.customer_id, customer_emails.customer_id, 'email:' || orders.email)
        end as customer_id,
        orders.email,
        orders.financial_status,
        orders.financial_status in ('refunded', 'partially_refunded') as is_refunded,
        orders.currency_code,
        orders.total_price,
        orders.refunded_amount,
        coalesce(orders.shipping_country_code, orders.billing_country_code) as country_code,
        orders.created_at,
        orders.processed_at,
        coalesce(orders.processed_at, orders.created_at) as ordered_at,
        orders.updated_at,
        orders.cancelled_at,
        orders.cancelled_at is not null as is_cancelled,
        case
            when orders.source_kind = 'csv' and orders.order_id like 'csv:order:%' and api_order_names.api_order_id is not null
                then 'duplicate_of_api_order'
        end as exclusion_reason,
        orders.source_kind,
        orders._source,
        orders._run_id,
        orders._loaded_at,
        orders._rows_in_load

    from orders

    left join customer_emails
        on orders.source_kind = 'csv'
        and orders.customer_id is null
        and orders.email = customer_emails.email

    left join api_order_names
        on orders.source_kind = 'csv'
        and orders.name = api_order_names.name

)

select * from final
