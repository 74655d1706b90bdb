-- Person x calendar month spine: one row for every month from the person's registration
-- month (cohort_month) to the as-of month (inactive months included, so engagement
-- denominators are explicit; months from int_calendar__months), with that month's activity
-- from int_patient__activity_days (what the person did; days after the as-of date ignored).
with people as (
    select * from {{ ref('int_kpi__person_acquisition') }}
),

spine as (
    select
        people.person_id,
        months.month
    from people
    inner join {{ ref('int_calendar__months') }} as months on people.cohort_month <= months.month
),

activity as (
    select
        person_id,
        cast(date_trunc('month', activity_date) as date) as activity_month,
        count(*) as active_days,
        count(*) filter (where is_service_day) as service_days,
        sum(services) as services,
        min(activity_date) as first_active_date,
        max(activity_date) as last_active_date
    from {{ ref('int_patient__activity_days') }}
    group by all
)

select
    spine.person_id,
    spine.month,
    people.cohort_month,
    people.registered_date,
    cast({{ p360_date_diff('month', "people.cohort_month", "spine.month") }} as integer) as months_since_registration,
    cast(coalesce(a.active_days, 0) as bigint) as active_days,
    cast(coalesce(a.service_days, 0) as bigint) as service_days,
    cast(coalesce(a.services, 0) as bigint) as services,
    a.first_active_date,
    a.last_active_date,
    coalesce(a.active_days, 0) > 0 as is_active
from spine
inner join people on spine.person_id = people.person_id
left join activity as a on spine.person_id = a.person_id and spine.month = a.activity_month
