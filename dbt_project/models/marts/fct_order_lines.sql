-- One row per order line item that counts as a sale record (see int_shopify__order_lines for what is left out and
-- why), with the order facts a line needs: who bought, when, where, and whether the order was cancelled/refunded.
-- Cancelled and refunded orders are kept and flagged; the feature models decide what to do with them.
--
-- Incremental: a run recomputes only the orders that changed (macros/order_lines_incremental.sql): the pre-hook
-- deletes every line of those orders and this query inserts their current lines, in one transaction.
-- `dbt build --full-refresh` rebuilds the table from scratch and must give the same rows (tested).

-- depends_on: {{ ref('int_shopify__orders') }}
-- depends_on: {{ source('shopify', 'orders') }}
-- depends_on: {{ source('shopify', 'order_line_items') }}

-- post-hook `analyze`: fresh statistics for the models that read this table next in the same run (an incremental
-- write does not analyze, and autovacuum may come too late); then record which invocation built it, so the next
-- run's lookback skips the raw loads this one saw (macros/raw_batches_seen.sql).

{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook="{{ order_lines_delete_changed() }}",
        post_hook=["analyze {{ this }}", "{{ record_raw_batches_applied() }}"],
        indexes=[{'columns': ['order_id']}, {'columns': ['customer_id']}],
    )
}}

with

order_lines as (

    select * from {{ ref('int_shopify__order_lines') }}

    where exclusion_reason is null

    {% if is_incremental() %}
        and {{ order_lines_changed_filter() }}
    {% endif %}

),

final as (

    select
        order_line_id,
        order_id,
        order_name,
        customer_id,
        product_id,
        product_resolution,
        variant_id,
        sku,
        title,
        quantity,
        unit_price,
        line_revenue,
        ordered_at,
        is_cancelled,
        cancelled_at,
        financial_status,
        is_refunded,
        currency_code,
        country_code,
        line_source,
        _loaded_at

    from order_lines

)

select * from final
