-- Special groups (business_rules.md "Population mix"): chronic (a chronic programme diagnosis),
-- elderly (age >= elderly_min_age), children (age <= child_max_age, decisions by parents).
-- Unknown age (no HIS record): is_elderly and is_child are null, as in patient_360.
{{ config(
    materialized='incremental',
    unique_key='as_of_date',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns'
) }}

select
    d.patient_key,
    a.as_of_date,
    coalesce(c.is_chronic, false) as is_chronic,
    d.age_years >= {{ var('elderly_min_age') }} as is_elderly,
    d.age_years <= {{ var('child_max_age') }} as is_child
from {{ ref('int_patient__demographics') }} as d
cross join {{ ref('int_run__as_of') }} as a
left join {{ ref('int_patient__clinical') }} as c on d.patient_key = c.patient_key
