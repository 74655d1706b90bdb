-- One row per person and active day up to the as-of date: a day on which the person did
-- something (int_patient__events.is_activity: a visit, a consult request, a community
-- purchase, post, check-in, talk, task or referral). Engagement signals (device syncs,
-- message opens, payments, lab results, NPS answers) never make a day active (docs/metrics.md
-- "Activity"). The one definition of an active day, for engagement, recall, retention,
-- lifecycle and churn warning. is_service_day: a service that day (visit, completed consult,
-- prescription); services: the day's service events; revenue: what the person paid that day
-- (exact decimal; payments on a day without activity are in int_patient__events only).
-- Grouped on the integer person_id; the patient_key is attached after the aggregation.
with days as (
    select
        e.person_id,
        e.event_date as activity_date,
        coalesce(bool_or(e.is_service), false) as is_service_day,
        count(*) filter (where e.is_service) as services,
        cast(sum(e.revenue) as decimal(18, 2)) as revenue
    from {{ ref('int_patient__events') }} as e
    group by e.person_id, e.event_date
    having bool_or(e.is_activity)
)

select
    d.person_id,
    k.patient_key,
    d.activity_date,
    d.is_service_day,
    d.services,
    d.revenue
from days as d
inner join {{ ref('person_keys') }} as k on d.person_id = k.person_id
