{#-
    Use a model's custom schema verbatim (`staging`, `marts`) instead of dbt's default `<target_schema>_<custom>`,
    so the warehouse layout is exactly the one in docs/contracts.md whichever profile (CLI or Cosmos) runs dbt.
    Nodes without a custom schema go to the target schema (`analytics`).

    With var `feature_schema` set (recommender_train's point-in-time builds, together with `as_of`), the models under
    models/marts/features/ go to that schema instead, so a snapshot never overwrites the nightly `marts` tables; the
    models they read resolve to their usual schemas.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set snapshot_schema = var('feature_schema', '') | string | trim -%}
    {%- if snapshot_schema and node is not none and 'features' in node.fqn[:-1] -%}
        {{ snapshot_schema }}
    {%- elif custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
