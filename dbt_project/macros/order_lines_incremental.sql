{#- Measured saving (bench/bench_dbt_build.py --size L --seed 1, 2026-12-07 at 69bf47f, a loaded machine; bench/README.md):
    node time, full build -> night 1 / night 2: fct_order_lines 75.6 s -> 13.8 / 17.7 s, int_shopify__orders
    26.7 s -> 6.4 / 14.8 s. -#}
{#-
    Incremental maintenance of fct_order_lines (see the model's yml and docs/features.md).

    A nightly run recomputes only the *changed orders* and replaces all of their lines (delete, then insert, in one
    transaction), so an edited order loses the lines it no longer has and a cancelled or refunded order gets its new
    state. An order is changed when:
      * a raw row of it (order or line item) was loaded after the watermark minus the lookback. The watermark is the
        newest `_loaded_at` already in the table; the lookback (var `order_lines_lookback_hours`, default 6) covers
        loads whose transaction started (and stamped `_loaded_at`) before rows the previous build already saw, i.e.
        a load that overlapped the previous dbt run. Rows of a load the previous build already saw are left out
        (macros/raw_batches_seen.sql), so the lookback re-reads only what may really have been missed;
      * or it came from a CSV export: CSV orders and lines are resolved to customers by email and to products by SKU,
        and those resolutions change when new customers/products arrive, so they are always recomputed (CSV exports
        are the small, occasional path).
-#}

{% macro order_lines_watermark() -%}
    {%- if execute and is_incremental() -%}
        {%- set result = run_query("select max(_loaded_at) from " ~ this) -%}
        {%- set value = result.columns[0].values()[0] -%}
        {%- if value is none -%}
            cast('-infinity' as timestamptz)
        {%- else -%}
            cast('{{ value }}' as timestamptz) - interval '{{ var("order_lines_lookback_hours") | int }} hours'
        {%- endif -%}
    {%- else -%}
        cast('-infinity' as timestamptz)
    {%- endif -%}
{%- endmacro %}

{% macro order_lines_changed_orders() -%}
    select id as order_id
    from {{ source('shopify', 'orders') }}
    where _loaded_at > {{ order_lines_watermark() }}
        and {{ not_seen_by_last_build() }}

    union

    select order_id
    from {{ source('shopify', 'order_line_items') }}
    where _loaded_at > {{ order_lines_watermark() }}
        and order_id is not null
        and {{ not_seen_by_last_build() }}

    union

    select order_id
    from {{ ref('int_shopify__orders') }}
    where source_kind = 'csv'

    union

    select order_id
    from {{ this }}
    where line_source = 'csv'
{%- endmacro %}

{#-
    The changed orders as a filter on an order id column: a constant id list (macros/id_list_filter.sql), so a nightly
    run reads only the changed orders' raw rows. When more orders changed than var `order_lines_max_listed_orders`
    (the first nightly run after a backfill) the filter is `true`: the pre-hook empties the table and every order is
    rebuilt (deleting and re-inserting most of a large table row by row costs several full builds).
-#}
{% macro order_lines_changed_filter(column='order_id') -%}
    {%- if execute and is_incremental() -%}
        {%- do return(id_list_filter(column, order_lines_changed_orders(), too_many='true')) -%}
    {%- endif -%}
    {%- do return(column ~ ' in (' ~ order_lines_changed_orders() ~ ')') -%}
{%- endmacro %}

{#-
    pre-hook: on an incremental run, delete every line of the changed orders (the model then inserts their lines); with
    more than var `order_lines_max_listed_orders` changed orders, empty the table (the model then inserts every line).
-#}
{% macro order_lines_delete_changed() -%}
    {%- if is_incremental() -%}
        {%- set order_ids = id_list(order_lines_changed_orders()) -%}
        {%- if order_ids is none -%}
        truncate {{ this }}
        {%- else -%}
        delete from {{ this }} where order_id = any({{ id_array(order_ids) }})
        {%- endif -%}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#-
    int_shopify__orders (incremental): the orders with a raw order row loaded after the table's watermark (minus the
    lookback), and every CSV order (resolved by email and checked against API order names, which other records
    change). Listed like fct_order_lines' changed orders; above var `order_lines_max_listed_orders` the table is
    emptied and rebuilt.
-#}
{% macro int_orders_changed_orders() -%}
    select id as order_id
    from {{ source('shopify', 'orders') }}
    where _loaded_at > {{ order_lines_watermark() }}
        and {{ not_seen_by_last_build() }}

    union

    select order_id
    from {{ this }}
    where source_kind = 'csv'
{%- endmacro %}

{% macro int_orders_changed_filter() -%}
    {%- if execute and is_incremental() -%}
        {%- do return(id_list_filter('order_id', int_orders_changed_orders(), too_many='true')) -%}
    {%- endif -%}
    {%- do return('true') -%}
{%- endmacro %}

{% macro int_orders_delete_changed() -%}
    {%- if is_incremental() -%}
        {%- set changed = int_orders_changed_filter() -%}
        {%- if changed == 'true' -%}
        truncate {{ this }}
        {%- else -%}
        delete from {{ this }} where {{ changed }}
        {%- endif -%}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
