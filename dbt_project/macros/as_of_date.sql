{#- The run's as-of date as given, else none: the `as_of_date` var (`dbt build --vars
    '{as_of_date: "2026-10-31"}'`), else the environment variable P360_AS_OF_DATE, which is
    how the pipeline passes it (patient360.dbt_runner): a var that changes every day would
    make dbt parse the whole project again on every run (patient360.dbt_parse_cache). -#}
{% macro p360_as_of_date() %}
    {{ return(var('as_of_date') or env_var('P360_AS_OF_DATE', '') or none) }}
{% endmacro %}
