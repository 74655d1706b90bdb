-- Per-person service and activity facts as of the run date: service facts (first/last
-- service, first paid service, service days) and event counts from int_patient__events,
-- activity facts (last active day, active days in the window) from int_patient__activity_days.
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

events as (
    select e.*
    from {{ ref('int_patient__events') }} as e
    cross join as_of
    where e.event_date <= as_of.as_of_date
),

specialty_rank as (
    select
        person_id,
        specialty,
        row_number() over (partition by person_id order by count(*) desc, specialty) as rnk
    from events
    where specialty is not null
    group by person_id, specialty
),

service_days as (
    select
        person_id,
        min(event_date) filter (where is_service) as first_service_date,
        min(event_date) filter (where revenue > 0) as first_paid_date,
        max(event_date) filter (where is_service) as last_service_date,
        count(distinct event_date) filter (where is_service) as service_days
    from events
    group by person_id
),

active_days as (
    select
        d.person_id,
        max(d.activity_date) as last_active_date,
        count(*) filter (
            where d.activity_date > as_of.as_of_date - interval {{ var('lifecycle_active_window_days') }} day
        ) as active_days_30d
    from {{ ref('int_patient__activity_days') }} as d
    cross join as_of
    group by d.person_id
),

counts as (
    select
        events.person_id,
        count(*) filter (where events.event_type like 'visit_%') as visit_count,
        count(*) filter (where events.event_type = 'consult_completed') as consult_count,
        count(*) filter (where events.event_type like 'consult_%') as consult_request_count,
        count(*) filter (where events.event_type = 'prescription') as prescription_count,
        count(*) filter (where events.is_service) as service_count,
        cast(coalesce(sum(events.revenue), 0) as decimal(18, 2)) as total_revenue,
        count(*) filter (
            where events.is_service
            and events.event_date > as_of.as_of_date - interval {{ var('lifecycle_active_window_days') }} day
        ) as services_30d,
        any_value(sr.specialty) as primary_specialty
    from events
    cross join as_of
    left join specialty_rank as sr on events.person_id = sr.person_id and sr.rnk = 1
    group by events.person_id
)

-- grouped on the integer person_id above; the patient_key is attached here, once per person
select
    counts.person_id,
    k.patient_key,
    sd.first_service_date,
    sd.first_paid_date,
    sd.last_service_date,
    ad.last_active_date,
    counts.visit_count,
    counts.consult_count,
    counts.consult_request_count,
    counts.prescription_count,
    counts.service_count,
    sd.service_days,
    counts.total_revenue,
    coalesce(ad.active_days_30d, 0) as active_days_30d,
    counts.services_30d,
    counts.primary_specialty
from counts
inner join service_days as sd on counts.person_id = sd.person_id
left join active_days as ad on counts.person_id = ad.person_id
inner join {{ ref('person_keys') }} as k on counts.person_id = k.person_id
