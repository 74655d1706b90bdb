{#- Whole years between birth date and as-of date. -#}
{% macro age_years(birth_col, as_of_col) -%}
    ({{ p360_date_diff('year', birth_col, as_of_col) }}
        - case when {{ p360_strftime(as_of_col, '%m%d') }} < {{ p360_strftime(birth_col, '%m%d') }} then 1 else 0 end)
{%- endmacro %}

{#- 5-year bands, 90+ grouped (GB/T 37964 generalisation of a quasi-identifier). -#}
{% macro age_band(age_expr) -%}
    case
        when {{ age_expr }} is null then 'unknown'
        when {{ age_expr }} >= 90 then '90+'
        else lpad(cast(({{ p360_int_div(age_expr, '5') }}) * 5 as {{ dbt.type_string() }}), 2, '0') || '-' || lpad(cast(({{ p360_int_div(age_expr, '5') }}) * 5 + 4 as {{ dbt.type_string() }}), 2, '0')
    end
{%- endmacro %}
