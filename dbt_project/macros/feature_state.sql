{#-
    Incremental feature state (docs/features.md, "Nightly cost").

    The feature tables depend on the cutoff (`as_of`): recency, the 7/30/90-day windows, the decayed strength, the
    quintile scores and lift all move every night for every row. What does not depend on the cutoff is kept in
    *feature state* models (models/marts/features/state/), which a nightly run updates for the orders that changed
    only; the feature tables are then computed from the state, which is far smaller than the order lines.

    * The change log `marts._fct_order_lines_changes` is written by fct_order_lines' pre-hook
      (macros/order_lines_incremental.sql) in the same transaction as the lines it replaces: one `batch` per build,
      one row per changed order and line shape it had *before* the change (customer, product, cancelled), or a row
      with only the order id for an order it did not have. A row with a null order id means "every order changed" (a
      full build of fct_order_lines, or its empty-and-rebuild path).
    * `marts._feature_state_positions` holds, per state model, the last batch it applied (written by its post-hook,
      in the same transaction as its rows). A state model applies the batches after that one; it recomputes from
      fct_order_lines when it has no position, on --full-refresh, when a batch says every order changed, or when more
      than var `order_lines_max_listed_orders` customers/orders are affected.
    * The feature tables use the state only when it gives exactly what their full SQL would: no explicit `as_of`, no
      line of fct_order_lines placed or cancelled after the cutoff (the state counts every line), and every state
      model has applied the latest batch. Otherwise they run the full SQL (a point-in-time build for training).
-#}

{% macro order_line_changes() -%}marts._fct_order_lines_changes{%- endmacro %}
{% macro feature_state_positions() -%}marts._feature_state_positions{%- endmacro %}

{#- (not adapter.get_relation: dbt's relation cache does not see tables created by hooks during the run) -#}
{% macro feature_state_table_exists(table) -%}
    {%- do return(run_query("select to_regclass('" ~ table ~ "') is not null").columns[0].values()[0]) -%}
{%- endmacro %}

{% macro create_feature_state_bookkeeping() -%}
    create schema if not exists marts;
    create table if not exists {{ order_line_changes() }} (
        batch bigint not null,
        order_id text,
        customer_id text,
        product_id text,
        is_cancelled boolean,
        logged_at timestamptz not null default now()
    );
    create index if not exists _fct_order_lines_changes_batch_idx on {{ order_line_changes() }} (batch, order_id);
    create table if not exists {{ feature_state_positions() }} (
        model text primary key,
        applied_batch bigint not null,
        applied_at timestamptz not null default now()
    )
{%- endmacro %}

{#- fct_order_lines pre-hook (incremental, listed orders): log the changed orders' lines as they are before the change. -#}
{% macro log_order_line_changes(order_ids) -%}
    {{ create_feature_state_bookkeeping() }};
    insert into {{ order_line_changes() }} (batch, order_id, customer_id, product_id, is_cancelled)
    select
        next_batch.batch,
        changed.order_id,
        before_change.customer_id,
        before_change.product_id,
        before_change.is_cancelled
    from (select coalesce(max(batch), 0) + 1 as batch from {{ order_line_changes() }}) as next_batch
    cross join unnest({{ id_array(order_ids) }}) as changed (order_id)
    left join (
        select distinct order_id, customer_id, product_id, is_cancelled
        from {{ this }}
        where order_id = any({{ id_array(order_ids) }})
    ) as before_change
        on changed.order_id = before_change.order_id;
    {{ prune_order_line_changes() }}
{%- endmacro %}

{#- fct_order_lines pre-hook (full build, or empty-and-rebuild): every order changed. -#}
{% macro log_all_order_lines_changed() -%}
    {{ create_feature_state_bookkeeping() }};
    insert into {{ order_line_changes() }} (batch)
    select coalesce(max(batch), 0) + 1 from {{ order_line_changes() }};
    {{ prune_order_line_changes() }}
{%- endmacro %}

{#- Batches before the oldest one a state model applied are not needed any more (the newest batch always stays). -#}
{% macro prune_order_line_changes() -%}
    delete from {{ order_line_changes() }}
    where batch < (select min(applied_batch) from {{ feature_state_positions() }})
{%- endmacro %}

{#-
    What the state model being built must apply: a dict with
      batch   the latest batch (what the post-hook records),
      full    true: recompute from fct_order_lines (the pre-hook empties an existing table),
      orders  SQL selecting the changed order ids (when not full),
      first   SQL selecting (order_id, batch) of each changed order's first change in the range (when not full).
    `settings`: {column: value} the state was computed with (e.g. the half-life); rows computed with other values
    make it recompute everything.
-#}
{% macro feature_state_changes(settings={}) -%}
    {%- set state = {'batch': 0, 'full': true, 'orders': none, 'first': none} -%}
    {%- if not execute -%}
        {%- do return(state) -%}
    {%- endif -%}
    {%- if not feature_state_table_exists(order_line_changes()) -%}
        {%- do return(state) -%}
    {%- endif -%}
    {%- set latest = run_query('select coalesce(max(batch), 0) from ' ~ order_line_changes()).columns[0].values()[0] -%}
    {%- do state.update({'batch': latest}) -%}
    {%- if not is_incremental() or flags.FULL_REFRESH -%}
        {%- do return(state) -%}
    {%- endif -%}
    {%- set applied_rows = run_query('select applied_batch from ' ~ feature_state_positions()
                                     ~ " where model = '" ~ this.identifier ~ "'").columns[0].values() -%}
    {%- if applied_rows | length == 0 -%}
        {%- do return(state) -%}
    {%- endif -%}
    {%- set range -%}batch > {{ applied_rows[0] }} and batch <= {{ latest }}{%- endset -%}
    {%- set everything = run_query('select count(*) from ' ~ order_line_changes() ~ ' where ' ~ range
                                   ~ ' and order_id is null').columns[0].values()[0] -%}
    {%- if everything > 0 -%}
        {%- do return(state) -%}
    {%- endif -%}
    {%- for column, value in settings.items() -%}
        {%- set stale = run_query('select count(*) from ' ~ this ~ ' where ' ~ column ~ ' is distinct from '
                                  ~ value).columns[0].values()[0] -%}
        {%- if stale > 0 -%}
            {%- do return(state) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do state.update({
        'full': false,
        'orders': 'select distinct order_id from ' ~ order_line_changes() ~ ' where ' ~ range,
        'first': 'select order_id, min(batch) as batch from ' ~ order_line_changes() ~ ' where ' ~ range
                 ~ ' group by order_id',
    }) -%}
    {%- do return(state) -%}
{%- endmacro %}

{#-
    For a state model keyed by customer: `customer_id = any(array[...])` for the customers whose lines changed (the
    customer an order had before the change, and the one it has now), 'false' for none, or none (recompute all).
-#}
{% macro feature_state_customer_filter(changes) -%}
    {%- if changes.full -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- set customers_sql -%}
        select customer_id from {{ order_line_changes() }}
        where order_id in ({{ changes.orders }}) and customer_id is not null
        union
        select customer_id from {{ ref('fct_order_lines') }}
        where order_id in ({{ changes.orders }}) and customer_id is not null
    {%- endset -%}
    {%- set filter = id_list_filter('customer_id', customers_sql, too_many='all') -%}
    {%- do return(none if filter == 'all' else filter) -%}
{%- endmacro %}

{#- pre-hook of a state model rebuilt per key: empty it (full) or delete the rows of the changed keys. -#}
{% macro feature_state_delete(filter) -%}
    {%- if not is_incremental() -%}
        select 1
    {%- elif filter is none -%}
        truncate {{ this }}
    {%- else -%}
        delete from {{ this }} where {{ filter }}
    {%- endif -%}
{%- endmacro %}

{#- post-hook of a state model: the batch it has applied, in its own transaction. -#}
{% macro feature_state_record(changes) -%}
    {{ create_feature_state_bookkeeping() }};
    insert into {{ feature_state_positions() }} (model, applied_batch)
    values ('{{ this.identifier }}', {{ changes.batch }})
    on conflict (model) do update set applied_batch = excluded.applied_batch, applied_at = now()
{%- endmacro %}

{#- Whether the feature tables can be computed from the state (see the top of this file). -#}
{% macro feature_state_usable(state_models) -%}
    {%- if not execute -%}
        {%- do return(false) -%}
    {%- endif -%}
    {%- set value = var('as_of', none) -%}
    {%- if value is not none and (value | string | trim) != '' -%}
        {%- do return(false) -%}
    {%- endif -%}
    {%- if not feature_state_table_exists(feature_state_positions()) -%}
        {%- do return(false) -%}
    {%- endif -%}
    {%- set check -%}
        select
            (select count(*) from {{ ref('fct_order_lines') }}
             where ordered_at > {{ as_of() }} or cancelled_at > {{ as_of() }}) as after_cutoff,
            (select count(*) from {{ feature_state_positions() }}
             where model in ({% for m in state_models %}'{{ m }}'{{ ", " if not loop.last }}{% endfor %})
                and applied_batch = (select coalesce(max(batch), 0) from {{ order_line_changes() }})) as current
    {%- endset -%}
    {%- set row = run_query(check).rows[0] -%}
    {%- do return(row[0] == 0 and row[1] == state_models | length) -%}
{%- endmacro %}
