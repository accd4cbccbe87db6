{#-
    Use a model's custom schema verbatim (`staging`, `marts`) instead of dbt's default `<target_schema>_<custom>`,
    so the warehouse layout is exactly the one in docs/contracts.md whichever profile (CLI or Cosmos) runs dbt.
    Nodes without a custom schema go to the target schema (`analytics`).
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
