-- Need type from the service mix (business_rules.md "Value and need"), first rule that holds:
--   health_management: chronic programme, or follow-up events (lab results, refills = a repeat
--                      prescription of a chronic-programme drug (seed drug_programmes), device-sync days) are >= 40% of
--                      clinical events (a first prescription is not follow-up);
--   acute_consult:     consults plus emergency visits are >= 50% of services;
--   medical_resource:  inpatient visits or offline referrals, or prescriptions >= 50% of services;
--   preventive_care:   any other service (check-ups, paediatrics, gynaecology prevention);
--   unknown:           no service yet.
{{ config(
    materialized='incremental',
    unique_key='as_of_date',
    incremental_strategy=p360_incremental_strategy(),
    partition_by=p360_partition_by('as_of_date'),
    on_schema_change='append_new_columns'
) }}

with refills as (
    select
        p.person_id,
        count(*) filter (where p.fill_no > 1) as refills
    from (
        select
            rx.person_id,
            row_number() over (partition by rx.person_id, rx.drug_code order by rx.prescribed_date, rx.prescription_id) as fill_no
        from {{ ref('int_his__prescriptions_keyed') }} as rx
        inner join {{ ref('drug_programmes') }} as dp on rx.drug_code = dp.drug_code
        cross join {{ ref('int_run__as_of') }} as a
        where rx.prescribed_date <= a.as_of_date
    ) as p
    group by p.person_id
),

mix as (
    select
        person_id,
        count(*) filter (where is_service) as services,
        count(*) filter (where event_type in ('lab_result', 'wearable_sync')) as follow_up_events,
        count(
            *) filter (
            where event_type in ('lab_result', 'prescription', 'wearable_sync')
            or event_type like 'visit_%' or event_type like 'consult_%'
        ) as clinical_events,
        count(*) filter (where event_type in ('consult_completed', 'visit_emergency')) as acute_services,
        count(*) filter (where event_type = 'visit_inpatient') as inpatient_visits,
        count(*) filter (where event_type = 'prescription') as prescriptions
    from {{ ref('int_patient__events') }}
    group by person_id
)

-- joined on the integer person_id; patient_key comes with the person row (attached once upstream)
select
    d.patient_key,
    a.as_of_date,
    coalesce(m.services, 0) as services,
    coalesce(m.follow_up_events, 0) + coalesce(r.refills, 0) as follow_up_events,
    coalesce(m.acute_services, 0) as acute_services,
    coalesce(m.inpatient_visits, 0) as inpatient_visits,
    coalesce(m.prescriptions, 0) as prescriptions,
    case
        when coalesce(m.services, 0) = 0 then 'unknown'
        when coalesce(c.is_chronic, false) or m.follow_up_events + coalesce(r.refills, 0) >= 0.4 * m.clinical_events
            then 'health_management'
        when m.acute_services >= 0.5 * m.services then 'acute_consult'
        when m.inpatient_visits > 0 or m.prescriptions >= 0.5 * m.services then 'medical_resource'
        else 'preventive_care'
    end as need_type
from {{ ref('int_patient__demographics') }} as d
cross join {{ ref('int_run__as_of') }} as a
left join mix as m on d.person_id = m.person_id
left join refills as r on d.person_id = r.person_id
left join {{ ref('int_patient__clinical') }} as c on d.person_id = c.person_id
