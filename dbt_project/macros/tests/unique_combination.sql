{#- Rows whose combination of `columns` is not unique (null-safe: nulls compare equal).
    Usage: data_tests: [{unique_combination: {arguments: {columns: [a, b]}}}] -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
