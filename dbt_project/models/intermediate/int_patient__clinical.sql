-- Chronic programmes (ICD-10 categories mapped by the icd10_programmes seed) and the
-- latest control measurements: HbA1c from labs, BP from clinic labs or home devices.
-- Point-in-time: diagnoses and measurements dated on or before the as-of date only.
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

diagnoses as (
    select
        person_id,
        icd10_code,
        icd10_category,
        diagnosed_at,
        is_primary
    from {{ ref('int_his__diagnoses_keyed') }}
    where cast(diagnosed_at as date) <= (select a.as_of_date from as_of as a)
),

programmes as (
    select
        d.person_id,
        bool_or(p.programme = 'diabetes') as has_diabetes,
        bool_or(p.programme = 'gestational_diabetes') as has_gestational_diabetes,
        bool_or(p.programme = 'hypertension') as has_hypertension,
        bool_or(p.programme = 'copd') as has_copd,
        bool_or(p.programme = 'oncology') as has_oncology,
        bool_or(p.programme = 'oncology_screening') as has_oncology_family_history,
        bool_or(p.is_chronic) as is_chronic,
        min(d.diagnosed_at) filter (where p.programme in ('diabetes', 'gestational_diabetes')) as diabetes_first_diagnosed_at,
        min(d.diagnosed_at) filter (where p.programme = 'oncology') as oncology_first_diagnosed_at,
        {{ p360_distinct_string_agg('p.programme', ';') }} as programmes
    from diagnoses as d
    inner join {{ ref('icd10_programmes') }} as p on d.icd10_category = p.icd10_prefix
    group by d.person_id
),

labs as (
    select
        r.person_id,
        r.test_code,
        r.result_value,
        r.collected_at
    from {{ ref('int_his__lab_results_keyed') }} as r
    cross join as_of
    where r.collected_date <= as_of.as_of_date
),

latest_labs as (
    select
        person_id,
        {{ p360_arg_max("result_value", "collected_at") }} filter (where test_code = 'HBA1C') as latest_hba1c_pct,
        max(collected_at) filter (where test_code = 'HBA1C') as latest_hba1c_at,
        {{ p360_arg_max("result_value", "collected_at") }} filter (where test_code = 'SBP') as clinic_sbp,
        {{ p360_arg_max("result_value", "collected_at") }} filter (where test_code = 'DBP') as clinic_dbp,
        max(collected_at) filter (where test_code = 'SBP') as clinic_bp_at
    from labs
    group by person_id
),

home_bp as (
    select
        d.person_id,
        {{ p360_arg_max("d.avg_value", "d.measured_date") }} filter (where d.metric = 'systolic') as home_sbp,
        {{ p360_arg_max("d.avg_value", "d.measured_date") }} filter (where d.metric = 'diastolic') as home_dbp,
        max(d.measured_date) filter (where d.metric = 'systolic') as home_bp_date,
        {{ p360_arg_max("d.avg_value", "d.measured_date") }} filter (where d.metric = 'glucose') as latest_glucose_mmol
    from {{ ref('int_wearable__daily_keyed') }} as d
    cross join as_of
    where d.measured_date <= as_of.as_of_date
    group by d.person_id
),

clinical as (
    select
        coalesce(p.person_id, ll.person_id, hb.person_id) as person_id,
        coalesce(p.has_diabetes, false) as has_diabetes,
        coalesce(p.has_gestational_diabetes, false) as has_gestational_diabetes,
        coalesce(p.has_hypertension, false) as has_hypertension,
        coalesce(p.has_copd, false) as has_copd,
        coalesce(p.has_oncology, false) as has_oncology,
        coalesce(p.has_oncology_family_history, false) as has_oncology_family_history,
        coalesce(p.is_chronic, false) as is_chronic,
        p.programmes,
        cast(p.diabetes_first_diagnosed_at as date) as diabetes_first_diagnosed_date,
        cast(p.oncology_first_diagnosed_at as date) as oncology_first_diagnosed_date,
        ll.latest_hba1c_pct,
        case when ll.latest_hba1c_pct is not null then ll.latest_hba1c_pct < {{ var('hba1c_target_pct') }} end as hba1c_controlled,
        hb.latest_glucose_mmol,
        -- the more recent of clinic and home BP
        case
            when hb.home_bp_date is not null and (ll.clinic_bp_at is null or hb.home_bp_date >= cast(ll.clinic_bp_at as date))
                then hb.home_sbp
            else ll.clinic_sbp
        end as latest_sbp,
        case
            when hb.home_bp_date is not null and (ll.clinic_bp_at is null or hb.home_bp_date >= cast(ll.clinic_bp_at as date))
                then hb.home_dbp
            else ll.clinic_dbp
        end as latest_dbp
    from programmes as p
    full outer join latest_labs as ll on p.person_id = ll.person_id
    full outer join home_bp as hb on hb.person_id = coalesce(p.person_id, ll.person_id)
)

-- grouped and joined on the integer person_id above; the patient_key is attached once per person
select
    k.patient_key,
    c.*
from clinical as c
inner join {{ ref('person_keys') }} as k on c.person_id = k.person_id
