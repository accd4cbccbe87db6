{#- Measured saving (bench/bench_dbt_build.py --size L --seed 1, 2026-12-07 at 69bf47f, a loaded machine; bench/README.md): on
    the first night after the backfill, fct_order_lines took 13.8 s and int_shopify__orders 6.4 s of node time, the
    night's load only. Without this macro that night re-reads the backfill (it lies inside the lookback) and both
    tables are emptied and rebuilt: that path was not timed in this run; the full build's fct_order_lines took
    75.6 s and int_shopify__orders 26.7 s. (At 9170990, before this macro: night 1's fct_order_lines
    153.4 s against 11.2 s on night 2.) -#}
{#-
    Which raw loads a build has already seen, so the lookback does not read them again.

    The watermark of the incremental models (fct_order_lines, int_shopify__orders) and the nightly test scope look
    back `order_lines_lookback_hours` before the newest `_loaded_at` they know: a load stamps `_loaded_at` when its
    transaction starts, so one that overlapped the previous build can commit rows older than rows that build already
    saw. Looking back re-reads the previous load every night, and the whole backfill on the first night after one.

    Storeloop's loaders (include/storeloop/warehouse) commit one `raw_shopify._ingest_batches` row per load in the same
    transaction as its raw rows, with `committed_at` = that transaction's `now()`, which is also the rows' `_loaded_at`.
    So a batch row visible at some instant means every raw row with its (run_id, source, `_loaded_at` = committed_at)
    was visible then too. Each dbt invocation records the batches visible when it starts (on-run-start, before any
    model or test reads a raw row): `marts._raw_batches_seen`. The incremental models record, in their own
    transaction (post-hook), which invocation last built them (`marts._raw_batches_applied`); the test scope uses the
    invocation recorded in `marts._dbt_test_passes`. A later build leaves out of its lookback the raw rows of the
    batches that invocation saw: they were read then. Rows with no batch row (loaded by something else) and rows of an
    earlier attempt of a batch that was loaded again (its committed_at moved on) are looked back at as before.
-#}

{% macro raw_batches_seen() -%}marts._raw_batches_seen{%- endmacro %}
{% macro raw_batches_applied() -%}marts._raw_batches_applied{%- endmacro %}

{% macro ingest_batches_relation() -%}
    {{- graph.sources['source.storeloop.shopify.orders'].schema -}}._ingest_batches
{%- endmacro %}

{% macro create_raw_batches_bookkeeping() -%}
    create schema if not exists marts;
    create table if not exists {{ raw_batches_seen() }} (
        invocation_id text not null,
        run_id text not null,
        source text not null,
        committed_at timestamptz not null,
        recorded_at timestamptz not null default now()
    );
    create index if not exists _raw_batches_seen_invocation_idx on {{ raw_batches_seen() }} (invocation_id);
    create table if not exists {{ raw_batches_applied() }} (
        model text primary key,
        invocation_id text not null,
        applied_at timestamptz not null default now()
    )
{%- endmacro %}

{#-
    on-run-start: record the batches visible now, for this invocation. Snapshots no build or test pass refers to are
    dropped once a day old (a concurrent invocation's own snapshot is younger than that).
-#}
{% macro record_raw_batches_seen() -%}
    {%- if execute and run_query("select to_regclass('" ~ ingest_batches_relation() ~ "') is not null").columns[0].values()[0] -%}
        {%- set test_passes = run_query("select to_regclass('marts._dbt_test_passes') is not null").columns[0].values()[0] -%}
        {{ create_raw_batches_bookkeeping() }};
        {% if test_passes -%}
        alter table marts._dbt_test_passes add column if not exists seen_invocation_id text;
        {%- endif %}
        delete from {{ raw_batches_seen() }} as seen
        where recorded_at < now() - interval '1 day'
            and not exists (select 1 from {{ raw_batches_applied() }} as applied
                            where applied.invocation_id = seen.invocation_id)
            {% if test_passes -%}
            and not exists (select 1 from marts._dbt_test_passes as passes
                            where passes.seen_invocation_id = seen.invocation_id)
            {%- endif %};
        {#- a week back is plenty: the next nightly build looks back hours; a batch left out is only read again -#}
        insert into {{ raw_batches_seen() }} (invocation_id, run_id, source, committed_at)
        select '{{ invocation_id }}', run_id, source, committed_at
        from {{ ingest_batches_relation() }}
        where committed_at > now() - interval '7 days';
    {%- endif -%}
    select 1
{%- endmacro %}

{#- post-hook of an incremental model: this invocation built it (same transaction as its rows). -#}
{% macro record_raw_batches_applied() -%}
    {{ create_raw_batches_bookkeeping() }};
    insert into {{ raw_batches_applied() }} (model, invocation_id)
    values ('{{ this.identifier }}', '{{ invocation_id }}')
    on conflict (model) do update set invocation_id = excluded.invocation_id, applied_at = excluded.applied_at
{%- endmacro %}

{#-
    A condition on raw rows (unqualified `_run_id`, `_source`, `_loaded_at`): the row is not of a batch that
    invocation `seen_by_sql` (a query returning one invocation id, or none) saw. 'true' when there is nothing to use.
-#}
{% macro not_seen_by(seen_by_sql) -%}
    {%- if not execute -%}
        {%- do return('true') -%}
    {%- endif -%}
    {%- set tables = run_query(
        "select to_regclass('" ~ raw_batches_seen() ~ "') is not null and to_regclass('"
        ~ raw_batches_applied() ~ "') is not null"
    ).columns[0].values()[0] -%}
    {%- if not tables -%}
        {%- do return('true') -%}
    {%- endif -%}
    {%- set invocation = run_query(seen_by_sql).columns[0].values() -%}
    {%- if not invocation or invocation[0] is none -%}
        {%- do return('true') -%}
    {%- endif -%}
    {%- set condition -%}
        not exists (
            select 1 from {{ raw_batches_seen() }} as seen
            where seen.invocation_id = '{{ invocation[0] }}'
                and seen.run_id = _run_id
                and seen.source = _source
                and seen.committed_at = _loaded_at
        )
    {%- endset -%}
    {%- do return(condition) -%}
{%- endmacro %}

{#- The raw rows the last build of this incremental model did not see (see above). -#}
{% macro not_seen_by_last_build() -%}
    {%- do return(not_seen_by(
        "select invocation_id from " ~ raw_batches_applied() ~ " where model = '" ~ this.identifier ~ "'"
    )) -%}
{%- endmacro %}

{#- The raw rows the last invocation in which all of `model_name`'s tests passed did not see. -#}
{% macro not_seen_by_last_test_pass(model_name) -%}
    {%- do return(not_seen_by(
        "select seen_invocation_id from marts._dbt_test_passes where model = '" ~ model_name ~ "'"
    )) -%}
{%- endmacro %}
