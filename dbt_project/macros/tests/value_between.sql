{#- Rows where `column_name` lies outside [min_value, max_value] (either bound optional;
    nulls pass: pair with not_null where a value is required).
    Usage: data_tests: [{value_between: {arguments: {min_value: 0, max_value: 1}}}] -#}
{% test value_between(model, column_name, min_value=none, max_value=none) %}
{% if min_value is none and max_value is none %}
    {{ exceptions.raise_compiler_error("value_between on " ~ model ~ "." ~ column_name ~ ": give min_value and/or max_value") }}
{% endif %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
    and (
        false
        {% if min_value is not none %} or {{ column_name }} < {{ min_value }}{% endif %}
        {% if max_value is not none %} or {{ column_name }} > {{ max_value }}{% endif %}
    )
{% endtest %}
