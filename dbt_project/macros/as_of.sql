{#-
    The point-in-time cutoff of the feature models, as a SQL timestamptz expression.

      dbt build --vars '{as_of: "2026-01-01T00:00:00Z"}'   -> features as they were known at that instant
      dbt build                                            -> features as of the start of this dbt invocation

    Without `as_of` the cutoff is `run_started_at` (one instant for every model of the invocation, so the feature
    tables of one build agree with each other), not `now()` evaluated per statement.
-#}
{% macro as_of() -%}
    {%- set value = var('as_of', none) -%}
    {%- if value is none or (value | string | trim) == '' -%}
        cast('{{ run_started_at.strftime("%Y-%m-%dT%H:%M:%S.%f") }}+00:00' as timestamptz)
    {%- else -%}
        cast('{{ value | string | trim | replace("'", "''") }}' as timestamptz)
    {%- endif -%}
{%- endmacro %}
