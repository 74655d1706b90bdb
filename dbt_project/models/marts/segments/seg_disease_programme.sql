-- Disease-programme stage (business_rules.md "Disease-programme stages"), one row per person and
-- programme. Diabetes: gestational (O24), newly_diagnosed (first diagnosis within
-- programme_new_days), long_term_managed. Oncology: newly_diagnosed, long_term_rehabilitation
-- (>= oncology_rehab_years since first diagnosis), in_treatment otherwise; high_risk_screening
-- (family history Z80 without an oncology diagnosis). Hypertension and COPD: managed.
{{ config(
    materialized='incremental',
    unique_key='as_of_date',
    incremental_strategy=p360_incremental_strategy(),
    partition_by=p360_partition_by('as_of_date'),
    on_schema_change='append_new_columns'
) }}

with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

c as (
    select * from {{ ref('int_patient__clinical') }}
),

programmes as (
    select
        patient_key,
        'diabetes' as programme,
        diabetes_first_diagnosed_date as first_diagnosed_date,
        case when has_gestational_diabetes and not has_diabetes then 'gestational' end as fixed_stage
    from c
    where has_diabetes or has_gestational_diabetes
    union all
    select
        patient_key,
        'oncology' as programme,
        oncology_first_diagnosed_date as first_diagnosed_date,
        null as fixed_stage
    from c
    where has_oncology
    union all
    select
        patient_key,
        'oncology' as programme,
        null as first_diagnosed_date,
        'high_risk_screening' as fixed_stage
    from c
    where has_oncology_family_history and not has_oncology
    union all
    select
        patient_key,
        'hypertension' as programme,
        null as first_diagnosed_date,
        'managed' as fixed_stage
    from c
    where has_hypertension
    union all
    select
        patient_key,
        'copd' as programme,
        null as first_diagnosed_date,
        'managed' as fixed_stage
    from c
    where has_copd
)

select
    p.patient_key,
    p.programme,
    as_of.as_of_date,
    {{ person_month('p.first_diagnosed_date') }} as first_diagnosed_date,
    -- from the first day of the published diagnosis month: the exact day would undo the month
    {{ p360_date_diff('day', person_month('p.first_diagnosed_date'), 'as_of.as_of_date') }} as days_since_diagnosis,
    coalesce(
        p.fixed_stage,
        case
            when {{ p360_date_diff('day', "p.first_diagnosed_date", "as_of.as_of_date") }} <= {{ var('programme_new_days') }}
                then 'newly_diagnosed'
            when p.programme = 'diabetes' then 'long_term_managed'
            when {{ p360_date_diff('year', "p.first_diagnosed_date", "as_of.as_of_date") }} >= {{ var('oncology_rehab_years') }}
                then 'long_term_rehabilitation'
            else 'in_treatment'
        end
    ) as programme_stage
from programmes as p
cross join as_of
