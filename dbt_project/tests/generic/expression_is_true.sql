{#-
    Fails for every row where `expression` is not true (false or null), e.g.

      data_tests:
        - expression_is_true:
            arguments:
              expression: "product_id <> other_product_id"
-#}
{% test expression_is_true(model, expression, column_name=none) %}

select *

from {{ model }}

where not coalesce(({{ expression }}), false)

{% endtest %}
