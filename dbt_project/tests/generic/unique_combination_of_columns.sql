{#-
    Fails for every combination of `combination_of_columns` that occurs more than once in the model
    (a composite primary key check; same idea as dbt_utils.unique_combination_of_columns, which we can't install).

    Usage (model level):
      data_tests:
        - unique_combination_of_columns:
            arguments:
              combination_of_columns: [customer_id, product_id]
-#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

{%- set columns_csv = combination_of_columns | join(', ') %}

select
    {{ columns_csv }},
    count(*) as n_rows

from {{ model }}

group by {{ columns_csv }}

having count(*) > 1

{% endtest %}
