-- Per-person service and activity facts as of the run date.
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

events as (
    select e.* from {{ ref('int_patient__events') }} as e
    cross join as_of
    where e.event_date <= as_of.as_of_date
),

specialty_rank as (
    select patient_key, specialty,
        row_number() over (partition by patient_key order by count(*) desc, specialty) as rnk
    from events
    where specialty is not null
    group by patient_key, specialty
)

select
    events.patient_key,
    min(events.event_date) filter (where events.is_service) as first_service_date,
    max(events.event_date) filter (where events.is_service) as last_service_date,
    max(events.event_date) as last_active_date,
    count(*) filter (where events.event_type like 'visit_%') as visit_count,
    count(*) filter (where events.event_type = 'consult_completed') as consult_count,
    count(*) filter (where events.event_type like 'consult_%') as consult_request_count,
    count(*) filter (where events.event_type = 'prescription') as prescription_count,
    count(*) filter (where events.is_service) as service_count,
    count(distinct events.event_date) filter (where events.is_service) as service_days,
    cast(coalesce(sum(events.revenue), 0) as decimal(18, 2)) as total_revenue,
    count(distinct events.event_date) filter (
        where events.event_date > as_of.as_of_date - interval {{ var('lifecycle_active_window_days') }} day
    ) as active_days_30d,
    count(*) filter (
        where events.is_service and events.event_date > as_of.as_of_date - interval {{ var('lifecycle_active_window_days') }} day
    ) as services_30d,
    any_value(sr.specialty) as primary_specialty
from events
cross join as_of
left join specialty_rank as sr on sr.patient_key = events.patient_key and sr.rnk = 1
group by events.patient_key
