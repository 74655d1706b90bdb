-- Engagement by day and by month ("active" = a day in int_patient__activity_days: any
-- interaction up to the as-of date; days from int_calendar__days).
-- Day rows (grain = 'day'):
--   dau = people active that day; mau = people active in the 30 days ending that day;
--   stickiness = dau / mau; mean_active_days = person-days active in those 30 days / mau.
-- Month rows (grain = 'month', days after the as-of date not counted):
--   dau = mean daily actives over the month's observed days; mau = people active in the month;
--   stickiness = dau / mau; mean_active_days = person-days active in the month / mau.
with person_days as (
    select
        person_id,
        activity_date
    from {{ ref('int_patient__activity_days') }}
),

-- the day spine from the first active day to the as-of date
days as (
    select
        day,
        month
    from {{ ref('int_calendar__days') }}
    where day >= (select min(pd.activity_date) from person_days as pd)
),

-- MAU without a 30-day self-join (30x the person-days): a person counts towards the MAU of
-- every day within 29 days after one of their active days. Consecutive active days at
-- most 29 days apart chain into one coverage run [first day, last day + 29]; MAU of a
-- day is the number of runs covering it, a running sum of +1 at run starts and -1 after
-- run ends. Linear in person-days.
coverage_runs as (
    select
        person_id,
        activity_date,
        sum(case when {{ p360_date_diff('day', 'prev_date', 'activity_date') }} <= 29 then 0 else 1 end)
            over (partition by person_id order by activity_date rows unbounded preceding) as run_no
    from (
        select
            person_id,
            activity_date,
            lag(activity_date) over (partition by person_id order by activity_date) as prev_date
        from person_days
    ) as ordered
),

run_edges as (
    select
        min(activity_date) as edge_date,
        1 as delta
    from coverage_runs
    group by person_id, run_no
    union all
    select
        cast(max(activity_date) + 30 as date) as edge_date,
        -1 as delta
    from coverage_runs
    group by person_id, run_no
),

mau_steps as (
    select
        edge_date,
        sum(delta) as delta
    from run_edges
    group by edge_date
),

dau_by_day as (
    select
        activity_date,
        count(*) as dau
    from person_days
    group by activity_date
),

daily as (
    select
        days.day,
        coalesce(dau_by_day.dau, 0) as dau,
        -- the spine starts at the first active day, so no run starts before it
        sum(coalesce(mau_steps.delta, 0)) over (order by days.day rows unbounded preceding) as mau,
        sum(coalesce(dau_by_day.dau, 0)) over (order by days.day rows between 29 preceding and current row)
            as active_person_days
    from days
    left join dau_by_day on days.day = dau_by_day.activity_date
    left join mau_steps on days.day = mau_steps.edge_date
),

monthly as (
    select
        days.month,
        count(distinct days.day) as observed_days,
        count(distinct pd.person_id) as mau,
        count(pd.person_id) as active_person_days
    from days
    left join person_days as pd on days.day = pd.activity_date
    group by all
)

select
    'day' as grain,
    day as period_start,
    cast(1 as integer) as observed_days,
    cast(dau as double) as dau,
    cast(mau as bigint) as mau,
    cast(dau / {{ p360_float("nullif(mau, 0)") }} as double) as stickiness,
    cast(active_person_days as bigint) as active_person_days,
    cast(active_person_days / {{ p360_float("nullif(mau, 0)") }} as double) as mean_active_days
from daily
union all
select
    'month' as grain,
    month as period_start,
    cast(observed_days as integer) as observed_days,
    cast(active_person_days / {{ p360_float("observed_days") }} as double) as dau,
    cast(mau as bigint) as mau,
    cast(active_person_days / {{ p360_float("observed_days") }} / {{ p360_float("nullif(mau, 0)") }} as double) as stickiness,
    cast(active_person_days as bigint) as active_person_days,
    cast(active_person_days / {{ p360_float("nullif(mau, 0)") }} as double) as mean_active_days
from monthly
