-- Engagement by day and by month ("active" = any interaction in int_patient__events).
-- Day rows (grain = 'day'):
--   dau = people active that day; mau = people active in the 30 days ending that day;
--   stickiness = dau / mau; mean_active_days = person-days active in those 30 days / mau.
-- Month rows (grain = 'month', days after the as-of date not counted):
--   dau = mean daily actives over the month's observed days; mau = people active in the month;
--   stickiness = dau / mau; mean_active_days = person-days active in the month / mau.
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

person_days as (
    select distinct e.patient_key, e.event_date
    from {{ ref('int_patient__events') }} as e
    cross join as_of
    where e.event_date <= as_of.as_of_date
),

days as (
    select cast(d.day as date) as day
    from (select min(event_date) as first_day from person_days) as bounds
    cross join as_of
    cross join unnest(generate_series(
        cast(bounds.first_day as timestamp), cast(as_of.as_of_date as timestamp), interval 1 day
    )) as d (day)
    where bounds.first_day is not null
),

daily as (
    select
        days.day,
        count(distinct pd.patient_key) filter (where pd.event_date = days.day) as dau,
        count(distinct pd.patient_key) as mau,
        count(pd.patient_key) as active_person_days
    from days
    left join person_days as pd on pd.event_date between days.day - 29 and days.day
    group by days.day
),

monthly as (
    select
        cast(date_trunc('month', days.day) as date) as month,
        count(distinct days.day) as observed_days,
        count(distinct pd.patient_key) as mau,
        count(pd.patient_key) as active_person_days
    from days
    left join person_days as pd on pd.event_date = days.day
    group by all
)

select
    'day' as grain,
    day as period_start,
    cast(1 as integer) as observed_days,
    cast(dau as double) as dau,
    cast(mau as bigint) as mau,
    cast(dau / nullif(mau, 0) as double) as stickiness,
    cast(active_person_days as bigint) as active_person_days,
    cast(active_person_days / nullif(mau, 0) as double) as mean_active_days
from daily
union all
select
    'month',
    month,
    cast(observed_days as integer),
    cast(active_person_days / observed_days as double),
    cast(mau as bigint),
    cast(active_person_days / observed_days / nullif(mau, 0) as double),
    cast(active_person_days as bigint),
    cast(active_person_days / nullif(mau, 0) as double)
from monthly
