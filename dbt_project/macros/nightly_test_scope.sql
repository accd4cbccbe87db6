{#- Measured saving (bench/bench_dbt_build.py --size L --seed 1, 2026-12-07 at 69bf47f, a loaded machine; bench/README.md):
    the 31 scoped tests (the order-grain models' tests and the two reconciliation tests) took 281.3 s of node time in
    the full build (full scope), 13.5 s on night 1 and 55.0 s on night 2 (nightly scope). -#}
{#-
    Nightly test scope: on a nightly (incremental) build, the tests of the big order-grain models check the rows that
    can have changed since their tests last passed, instead of every order ever loaded; `dbt build --full-refresh`
    and `--vars '{full_tests: true}'` test everything. See docs/features.md ("Nightly tests").

    * A model opts in with `config: meta: {nightly_test_scope: orders | order_lines}` (staging, intermediate and
      fct_order_lines models of orders and their lines); a test opts out with `config: meta: {nightly_test_scope:
      full}` (a uniqueness test across ids, e.g. order names, must see every row).
    * The scope of a model's tests: the orders (by `order_id`) or the line items (by `order_line_id`) with a raw row
      loaded after the start of the last invocation in which all of that model's tests passed, minus var
      `order_lines_lookback_hours`, leaving out the raw loads the tests of that invocation already saw (for an
      incremental table: that the build they tested saw; macros/raw_batches_seen.sql). A failed test therefore keeps
      the window open: the next nightly run checks the same rows again, and later ones, until they pass. No passing
      run recorded yet (a first build): everything.
    * The ids are written into the test's SQL as a constant array (macros/id_list_filter.sql); above var
      `order_lines_max_listed_orders` ids, everything.
    * `marts._dbt_test_passes` (one row per model, written on-run-end by record_test_passes) holds the windows.
-#}

{#- var `full_tests`: true, or the text 'true' (the shopify_features DAG passes its param through a template). -#}
{% macro full_tests_requested() -%}
    {%- do return((var('full_tests', false) | string | trim | lower) in ('true', '1', 'yes')) -%}
{%- endmacro %}

{#- dbt's hook for a generic test's `model` argument (dbt's default applies the `where` config; kept as is). -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set scope_filter = nightly_test_filter(relation) -%}
    {%- set conditions = [] -%}
    {%- if where -%}{%- do conditions.append('(' ~ where ~ ')') -%}{%- endif -%}
    {%- if scope_filter -%}{%- do conditions.append(scope_filter) -%}{%- endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#- The scope filter for a generic test of `relation` ('' = test everything). -#}
{% macro nightly_test_filter(relation) -%}
    {%- if not execute or flags.FULL_REFRESH or full_tests_requested() -%}
        {%- do return('') -%}
    {%- endif -%}
    {%- if (model.config.get('meta') or {}).get('nightly_test_scope') == 'full' -%}
        {%- do return('') -%}
    {%- endif -%}
    {%- set tested = graph.nodes.get(model.get('attached_node') or '') -%}
    {%- set kind = ((tested.config.meta or {}).get('nightly_test_scope') if tested else none) -%}
    {%- if kind not in ('orders', 'order_lines') -%}
        {%- do return('') -%}
    {%- endif -%}
    {%- do return(nightly_scope_filter(tested.name, kind)) -%}
{%- endmacro %}

{#-
    `order_id = any(array[...])` / `order_line_id = any(array[...])` for the rows of `model_name` to test in this
    run, or '' (everything). Also used by singular tests.
-#}
{% macro nightly_scope_filter(model_name, kind, column=none) -%}
    {%- if not execute or flags.FULL_REFRESH or full_tests_requested() -%}
        {%- do return('') -%}
    {%- endif -%}
    {%- set column = column or ('order_id' if kind == 'orders' else 'order_line_id') -%}
    {%- set passed = run_query(
        "select to_regclass('marts._dbt_test_passes') is not null"
    ).columns[0].values()[0] -%}
    {%- if not passed -%}
        {%- do return('') -%}
    {%- endif -%}
    {%- set since = run_query(
        "select max(run_started_at) from marts._dbt_test_passes where model = '" ~ model_name ~ "'"
    ).columns[0].values()[0] -%}
    {%- if since is none -%}
        {%- do return('') -%}
    {%- endif -%}
    {%- set start -%}
        cast('{{ since }}' as timestamptz) - interval '{{ var("order_lines_lookback_hours") | int }} hours'
    {%- endset -%}
    {%- set not_seen = not_seen_by_last_test_pass(model_name) -%}
    {%- set orders = graph.sources['source.storeloop.shopify.orders'].relation_name -%}
    {%- set lines = graph.sources['source.storeloop.shopify.order_line_items'].relation_name -%}
    {%- set ids_sql -%}
        {%- if kind == 'orders' -%}
            select id from {{ orders }} where _loaded_at > {{ start }} and {{ not_seen }}
            union
            select order_id from {{ lines }} where _loaded_at > {{ start }} and order_id is not null and {{ not_seen }}
        {%- else -%}
            select distinct id from {{ lines }} where _loaded_at > {{ start }} and {{ not_seen }}
        {%- endif -%}
    {%- endset -%}
    {%- do return(id_list_filter(column, ids_sql)) -%}
{%- endmacro %}

{#- The customers of the scoped line items of `model_name` (read from fct_order_lines), as a customer_id filter. -#}
{% macro nightly_customer_scope_filter(model_name, column='customer_id') -%}
    {%- set lines_filter = nightly_scope_filter(model_name, 'order_lines') -%}
    {%- if lines_filter in ('', 'false') -%}
        {%- do return(lines_filter) -%}
    {%- endif -%}
    {%- set ids_sql -%}
        select distinct customer_id from {{ ref('fct_order_lines') }} where {{ lines_filter }} and customer_id is not null
    {%- endset -%}
    {%- do return(id_list_filter(column, ids_sql)) -%}
{%- endmacro %}

{#-
    on-run-end: for every model whose tests ran in this invocation and all passed, remember the invocation's start
    (marts._dbt_test_passes): the next nightly run tests that model's rows loaded since then. A warning counts as a
    pass (a warn-severity test never blocks: were it to hold the window, the scope would grow every night). A
    singular test counts for every model it reads.
-#}
{% macro record_test_passes(results) %}
    {%- if execute -%}
        {%- set outcome = {} -%}
        {%- for result in results if result.node.resource_type == 'test' -%}
            {%- set attached = result.node.attached_node -%}
            {%- set tested = [attached] if attached else result.node.depends_on.nodes -%}
            {%- for unique_id in tested if unique_id and unique_id.startswith('model.') -%}
                {%- set name = unique_id.split('.')[-1] -%}
                {%- do outcome.update({name: outcome.get(name, true) and result.status in ('pass', 'warn')}) -%}
            {%- endfor -%}
        {%- endfor -%}
        {%- if outcome -%}
            create schema if not exists marts;
            create table if not exists marts._dbt_test_passes (
                model text primary key,
                invocation_id text not null,
                run_started_at timestamptz not null,
                full_scope boolean not null,
                recorded_at timestamptz not null default now()
            );
            {#- whose raw batches the tested rows reflect: the build of an incremental table (it may have been built
                by another invocation, e.g. a Cosmos model task before its test task), else this invocation -#}
            alter table marts._dbt_test_passes add column if not exists seen_invocation_id text;
            {{ create_raw_batches_bookkeeping() }};
            {%- for name, all_passed in outcome.items() if all_passed %}
            insert into marts._dbt_test_passes (model, invocation_id, run_started_at, full_scope, seen_invocation_id)
            values ('{{ name }}', '{{ invocation_id }}', '{{ run_started_at.isoformat() }}',
                    {{ 'true' if (flags.FULL_REFRESH or full_tests_requested()) else 'false' }},
                    coalesce((select invocation_id from {{ raw_batches_applied() }} where model = '{{ name }}'),
                             '{{ invocation_id }}'))
            on conflict (model) do update set
                invocation_id = excluded.invocation_id, run_started_at = excluded.run_started_at,
                full_scope = excluded.full_scope, recorded_at = excluded.recorded_at,
                seen_invocation_id = excluded.seen_invocation_id;
            {%- endfor %}
            select 1;
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
