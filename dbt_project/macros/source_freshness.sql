{#-
    The time a raw_shopify source was last ingested, for `dbt source freshness` (the `loaded_at_query` of every
    source table in _shopify__sources.yml). Freshness asks "has this source been pulled recently?", so it reads the
    ingest's own record, not only the rows: a committed batch of the table's resource in raw_shopify._ingest_batches
    (an API pull that found nothing new still counts: an unchanged catalogue is fresh), or the newest `_loaded_at`
    of its rows (rows loaded without a batch record, e.g. before batches were kept).

    A source the merchant does not feed is not checked: when STORELOOP_INGEST_SOURCES has no `api` and no export of
    the table's kind was ever loaded (an exports-only store that never sent a customers export, say), the query
    returns the current time, i.e. fresh. A source that was fed once and then stopped keeps its last load time, and
    warns or fails after the configured hours like any other. With `api` enabled every resource is pulled every
    night, so every table is checked. docs/features.md ("Source freshness") states the rule for users.
-#}
{% macro storeloop_source_loaded_at() -%}
    {%- set resources = {'products': 'products', 'product_variants': 'products', 'customers': 'customers',
                         'orders': 'orders', 'order_line_items': 'orders'} -%}
    {%- set table = this.identifier -%}
    {%- set resource = resources[table] -%}
    {%- set api_fed = 'api' in env_var('STORELOOP_INGEST_SOURCES', 'api,exports').split(',') | map('trim') | list -%}
    select coalesce(
        greatest(
            (select max(committed_at) from {{ this.schema }}._ingest_batches where resource = '{{ resource }}'),
            (select max(_loaded_at) from {{ this }})
        ),
        {% if api_fed %}null{% else %}current_timestamp{% endif %}
    )
{%- endmacro %}
