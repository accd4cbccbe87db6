{#-
    on-run-end: remember which dbt invocation last built each model, so a consumer can name the exact build of the
    table it read (recommender_train tags its MLflow runs with the invocation of marts.fct_order_lines and
    marts.dim_customers). One row per model in `marts._dbt_model_builds`, replaced by every successful build of it.
    Cosmos runs one dbt invocation per task, so the rows of one shopify_features run carry different invocation ids;
    `airflow_run_id` (from the environment Cosmos passes, when present) ties them to the DAG run.
    A point-in-time snapshot (var `feature_schema`: macros/generate_schema_name.sql) is not the nightly build of its
    models and is not recorded here; recommender_train records it on its MLflow runs.
-#}
{% macro record_model_builds(results) %}
    {%- if execute and not (var('feature_schema', '') | string | trim) -%}
        {%- set built = [] -%}
        {%- for result in results -%}
            {%- if result.node.resource_type == 'model' and result.status == 'success' -%}
                {%- do built.append(result) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if built -%}
            create schema if not exists marts;
            create table if not exists marts._dbt_model_builds (
                model text primary key,
                relation text not null,
                invocation_id text not null,
                run_started_at timestamptz not null,
                built_at timestamptz not null default now(),
                rows_affected bigint,
                airflow_run_id text
            );
            {%- for result in built %}
            insert into marts._dbt_model_builds
                (model, relation, invocation_id, run_started_at, rows_affected, airflow_run_id)
            values (
                '{{ result.node.name }}',
                '{{ result.node.schema }}.{{ result.node.alias or result.node.name }}',
                '{{ invocation_id }}',
                '{{ run_started_at.isoformat() }}',
                {{ result.adapter_response.get('rows_affected', 'null') if result.adapter_response else 'null' }},
                {{ "'" ~ env_var('AIRFLOW_CTX_DAG_RUN_ID', '') | replace("'", "''") ~ "'" if env_var('AIRFLOW_CTX_DAG_RUN_ID', '') else 'null' }}
            )
            on conflict (model) do update set
                relation = excluded.relation, invocation_id = excluded.invocation_id,
                run_started_at = excluded.run_started_at, built_at = excluded.built_at,
                rows_affected = excluded.rows_affected, airflow_run_id = excluded.airflow_run_id;
            {%- endfor %}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
