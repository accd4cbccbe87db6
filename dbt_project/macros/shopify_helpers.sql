{#- Small expressions shared by the staging models (so API and CSV rows are normalised the same way). -#}

{#- 'api' for Admin API bulk rows, 'csv' for Shopify admin CSV exports (`_source` = 'csv_export' or 'csv_export:<file>'). -#}
{% macro source_kind(column='_source') -%}
    case when {{ column }} like 'csv\_export%' then 'csv' else 'api' end
{%- endmacro %}

{#- An ISO 3166-1 alpha-2 code from a free-text value, or null when the value is not one. -#}
{% macro country_code(expression) -%}
    case when upper(trim({{ expression }})) ~ '^[A-Z]{2}$' then upper(trim({{ expression }})) end
{%- endmacro %}

{#- A money amount from a CSV cell (text), or null when the cell is empty or not a number. -#}
{% macro csv_money(expression) -%}
    case when trim({{ expression }}) ~ '^-?[0-9]+(\.[0-9]+)?$' then cast(trim({{ expression }}) as numeric(14, 2)) end
{%- endmacro %}

{#-
    Version precedence within one id, best first: API rows over CSV rows (the API is authoritative and carries
    updated_at; CSV exports carry none), then the latest updated_at, then the latest load, then run id and source
    name so that ties are broken deterministically.
-#}
{% macro latest_version_order() -%}
    (source_kind = 'api') desc, updated_at desc nulls last, _loaded_at desc, _run_id desc, _source desc
{%- endmacro %}

{#- Days between two timestamps (fractional, double precision: numeric math is slow on millions of rows). -#}
{% macro days_between(start_ts, end_ts) -%}
    (cast(extract(epoch from ({{ end_ts }}) - ({{ start_ts }})) as double precision) / 86400.0)
{%- endmacro %}
