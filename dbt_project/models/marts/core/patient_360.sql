-- One row per person: the de-identified patient 360. Only the keyed pseudonym and
-- generalised quasi-identifiers (k-anonymised and l-diverse, int_patient__kanon_quasi) leave
-- the restricted zone; every other date tied to the person is published as its month
-- (docs/deidentification.md).
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

people as (
    select
        person_id,
        patient_key,
        has_medical_record
    from {{ ref('int_patient__demographics') }}
)

select
    people.patient_key,
    q.age_band,
    q.gender,
    q.city,
    q.province,
    crm.acquisition_channel,
    crm.acquisition_campaign_id,
    q.registered_period,
    {{ period_start('q.registered_period') }} as registered_date,
    {{ person_month('svc.first_service_date') }} as first_service_date,
    {{ person_month('svc.last_service_date') }} as last_service_date,
    {{ person_month('svc.last_active_date') }} as last_active_date,
    coalesce(svc.visit_count, 0) as visit_count,
    coalesce(svc.consult_count, 0) as consult_count,
    coalesce(svc.prescription_count, 0) as prescription_count,
    cast(coalesce(svc.total_revenue, 0) as decimal(18, 2)) as total_spend,
    svc.primary_specialty,
    coalesce(clin.is_chronic, false) as is_chronic,
    coalesce(clin.has_diabetes, false) as has_diabetes,
    coalesce(clin.has_hypertension, false) as has_hypertension,
    coalesce(clin.has_copd, false) as has_copd,
    coalesce(clin.has_oncology, false) as has_oncology,
    clin.programmes as chronic_programmes,
    clin.latest_hba1c_pct,
    clin.hba1c_controlled,
    clin.latest_glucose_mmol,
    clin.latest_sbp,
    clin.latest_dbp,
    case
        when clin.latest_sbp is not null and clin.latest_dbp is not null
            then clin.latest_sbp < {{ var('sbp_target_mmhg') }} and clin.latest_dbp < {{ var('dbp_target_mmhg') }}
    end as bp_controlled,
    coalesce(crm.community_member, false) as community_member,
    coalesce(crm.points_balance, 0) as points_balance,
    coalesce(crm.referrals_made, 0) as referrals_made,
    crm.latest_nps_score,
    coalesce(crm.marketing_consent, false) as marketing_consent,
    {{ band_at_least('q.age_band', var('elderly_min_age')) }} as is_elderly,
    {{ band_at_most('q.age_band', var('child_max_age')) }} as is_child,
    people.has_medical_record,
    lc.lifecycle_stage,
    lc.community_lifecycle_stage,
    rfm.value_tier,
    rfm.rfm_score,
    need.need_type,
    com.community_activity_tier,
    dm.programme_stage as diabetes_stage,
    onc.programme_stage as oncology_stage,
    churn.churn_risk_level,
    churn.churn_risk_reasons,
    pts.points_level,
    as_of.as_of_date
from people
cross join as_of
inner join {{ ref('int_patient__kanon_quasi') }} as q on people.person_id = q.person_id
left join {{ ref('int_patient__service_summary') }} as svc on people.person_id = svc.person_id
left join {{ ref('int_patient__clinical') }} as clin on people.person_id = clin.person_id
left join {{ ref('int_patient__crm') }} as crm on people.person_id = crm.person_id
-- the per-person models above join on the integer person_id; the published segments carry only
-- the patient_key, so their current snapshots join on it
left join {{ ref('seg_lifecycle') }} as lc on people.patient_key = lc.patient_key and as_of.as_of_date = lc.as_of_date
left join {{ ref('seg_rfm_value') }} as rfm on people.patient_key = rfm.patient_key and as_of.as_of_date = rfm.as_of_date
left join {{ ref('seg_need_type') }} as need on people.patient_key = need.patient_key and as_of.as_of_date = need.as_of_date
left join {{ ref('seg_community_activity') }} as com
    on people.patient_key = com.patient_key and as_of.as_of_date = com.as_of_date
left join {{ ref('seg_disease_programme') }} as dm
    on people.patient_key = dm.patient_key and as_of.as_of_date = dm.as_of_date and dm.programme = 'diabetes'
left join {{ ref('seg_disease_programme') }} as onc
    on people.patient_key = onc.patient_key and as_of.as_of_date = onc.as_of_date and onc.programme = 'oncology'
left join {{ ref('seg_churn_risk') }} as churn
    on people.patient_key = churn.patient_key and as_of.as_of_date = churn.as_of_date
left join {{ ref('seg_points_level') }} as pts on people.patient_key = pts.patient_key and as_of.as_of_date = pts.as_of_date
