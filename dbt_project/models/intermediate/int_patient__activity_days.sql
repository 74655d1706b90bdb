-- One row per person and day with any interaction (int_patient__events) up to the as-of
-- date: the one definition of an active day, for engagement, recall, retention and
-- lifecycle. is_service_day: a service that day (visit, completed consult, prescription);
-- services: the day's service events; revenue: what the person paid that day (exact decimal).
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
)

select
    e.patient_key,
    e.event_date as activity_date,
    coalesce(bool_or(e.is_service), false) as is_service_day,
    count(*) filter (where e.is_service) as services,
    cast(sum(e.revenue) as decimal(18, 2)) as revenue
from {{ ref('int_patient__events') }} as e
cross join as_of
where e.event_date <= as_of.as_of_date
group by e.patient_key, e.event_date
