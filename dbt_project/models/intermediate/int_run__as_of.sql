-- The run's as-of date: the `as_of_date` var or P360_AS_OF_DATE when given, else the newest export partition
-- landed (the rule of patient360.run_plan; docs/orchestration.md). Every segment and KPI is
-- computed as of this date.
{% set as_of = p360_as_of_date() %}
select
    {% if as_of %}
        cast('{{ as_of }}' as date)
    {% else %}
        coalesce((select max(partition_date) from {{ ref('stg_audit__file_loads') }}), current_date)
    {% endif %} as as_of_date
