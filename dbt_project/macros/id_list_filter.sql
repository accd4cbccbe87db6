{#- A helper of the incremental models and the nightly test scope: its saving is theirs (order_lines_incremental.sql,
    nightly_test_scope.sql). -#}
{#-
    `column = any(array['<id>', ...])` for the ids `ids_sql` returns, read now and written into the SQL as constants.
    Postgres pushes such a filter down through the staging views' DISTINCT ON and window functions (keyed by the id)
    onto the raw rows and checks it with a hash, so "only what changed" reads only what changed. The alternatives are
    traps on a large store: `column in (select ...)` is a join the planner cannot push down (every raw row gets
    ranked), and `column = any(array(select ...))` is pushed down but compared element by element (hours).
    Returns 'false' for no ids, and `too_many` (e.g. '' = no filter, or 'true') for more than
    var `order_lines_max_listed_orders`.
-#}
{% macro id_list_filter(column, ids_sql, too_many='') -%}
    {%- set ids = id_list(ids_sql) -%}
    {%- if ids is none -%}
        {%- do return(too_many) -%}
    {%- elif ids | length == 0 -%}
        {%- do return('false') -%}
    {%- endif -%}
    {%- do return(column ~ ' = any(' ~ id_array(ids) ~ ')') -%}
{%- endmacro %}

{#- The ids `ids_sql` returns (nulls left out), or none when there are more than var `order_lines_max_listed_orders`. -#}
{% macro id_list(ids_sql) -%}
    {%- set ids = run_query(ids_sql).columns[0].values() | reject('none') | list -%}
    {%- if ids | length > var('order_lines_max_listed_orders') | int -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- do return(ids) -%}
{%- endmacro %}

{#- `array['<id>', ...]`, a constant (`array[]::text[]` for no ids). -#}
{% macro id_array(ids) -%}
    {%- if ids | length == 0 -%}
        {%- do return('array[]::text[]') -%}
    {%- endif -%}
    {%- set literal -%}
        array[{%- for id in ids %}'{{ id | replace("'", "''") }}'{{ ", " if not loop.last }}{% endfor -%}]
    {%- endset -%}
    {%- do return(literal) -%}
{%- endmacro %}
