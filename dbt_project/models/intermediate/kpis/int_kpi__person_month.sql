-- Person x calendar month spine: one row for every month from the person's acquisition
-- month to the as-of month (inactive months included, so retention and engagement
-- denominators are explicit), with that month's activity from int_patient__events
-- (events after the as-of date ignored).
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

people as (
    select * from {{ ref('int_kpi__person_acquisition') }}
),

spine as (
    select people.patient_key, cast(m.month as date) as month
    from people
    cross join as_of
    cross join unnest(generate_series(
        cast(people.cohort_month as timestamp),
        cast(date_trunc('month', as_of.as_of_date) as timestamp),
        interval 1 month
    )) as m (month)
),

activity as (
    select
        e.patient_key,
        cast(date_trunc('month', e.event_date) as date) as month,
        count(distinct e.event_date) as active_days,
        count(distinct e.event_date) filter (where e.is_service) as service_days,
        count(*) filter (where e.is_service) as services,
        sum(e.revenue) as revenue,
        min(e.event_date) as first_active_date,
        max(e.event_date) as last_active_date
    from {{ ref('int_patient__events') }} as e
    cross join as_of
    where e.event_date <= as_of.as_of_date
    group by all
)

select
    spine.patient_key,
    spine.month,
    people.cohort_month,
    people.acquisition_date,
    people.acquisition_channel,
    people.acquisition_campaign_id,
    cast(date_diff('month', people.cohort_month, spine.month) as integer) as months_since_acquisition,
    cast(coalesce(a.active_days, 0) as bigint) as active_days,
    cast(coalesce(a.service_days, 0) as bigint) as service_days,
    cast(coalesce(a.services, 0) as bigint) as services,
    cast(coalesce(a.revenue, 0) as decimal(18, 2)) as revenue,
    a.first_active_date,
    a.last_active_date,
    coalesce(a.active_days, 0) > 0 as is_active
from spine
inner join people on people.patient_key = spine.patient_key
left join activity as a on a.patient_key = spine.patient_key and a.month = spine.month
