-- Silent-user recall and churned-user win-back by month, from int_patient__activity_days
-- (lifecycle state at each month start derived here from the last active day before it,
-- with the lifecycle vars, so every month has a state even without a seg_lifecycle snapshot):
--   days_inactive = month start - last active day before the month;
--   silent at month start:  lifecycle_silent_days <= days_inactive <= lifecycle_churned_days (30..90);
--   churned at month start: days_inactive > lifecycle_churned_days;
--   recalled / won back: active again in the month (up to the as-of date);
--   recall_rate = recalled / silent; winback_rate = won back / churned;
--   winback_retention: of the won back whose return day is at least winback_retention_days (30)
--   before the as-of date, the share active on or after return day + 30 (the same "unbounded"
--   retention rule as kpi_retention).
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

person_days as (
    select
        person_id,
        activity_date
    from {{ ref('int_patient__activity_days') }}
),

-- a state at month start needs an earlier active day: months after the first active one
months as (
    select
        month,
        month_end
    from {{ ref('int_calendar__months') }}
    where month > (select min(pd.activity_date) from person_days as pd)
),

last_days as (
    select
        person_id,
        max(activity_date) as last_date
    from person_days
    group by person_id
),

states as (
    select
        months.month,
        months.month_end,
        pd.person_id,
        {{ p360_date_diff('day', "max(pd.activity_date)", "any_value(months.month)") }} as days_inactive
    from months
    inner join person_days as pd on months.month > pd.activity_date
    group by months.month, months.month_end, pd.person_id
),

returns as (
    select
        s.month,
        s.person_id,
        case
            when s.days_inactive > {{ var('lifecycle_churned_days') }} then 'churned'
            when s.days_inactive >= {{ var('lifecycle_silent_days') }} then 'silent'
        end as state_at_start,
        min(pd.activity_date) as return_date,
        max(later.last_date) as last_active_date
    from states as s
    left join person_days as pd
        on s.person_id = pd.person_id and pd.activity_date between s.month and s.month_end
    left join last_days as later on s.person_id = later.person_id
    where s.days_inactive >= {{ var('lifecycle_silent_days') }}
    group by s.month, s.person_id, s.days_inactive
),

flags as (
    select
        r.*,
        r.state_at_start = 'churned' and r.return_date is not null
        and r.return_date + {{ var('winback_retention_days') }} <= as_of.as_of_date as is_retention_eligible,
        r.last_active_date >= r.return_date + {{ var('winback_retention_days') }} as is_retained
    from returns as r
    cross join as_of
)

select
    months.month,
    cast(count(f.person_id) filter (where f.state_at_start = 'silent') as bigint) as silent_at_start,
    cast(count(f.person_id) filter (where f.state_at_start = 'silent' and f.return_date is not null) as bigint) as recalled,
    cast(
        count(f.person_id) filter (where f.state_at_start = 'silent' and f.return_date is not null)
        / {{ p360_float("nullif(count(f.person_id) filter (where f.state_at_start = 'silent'), 0)") }} as double
    ) as recall_rate,
    cast(count(f.person_id) filter (where f.state_at_start = 'churned') as bigint) as churned_at_start,
    cast(count(f.person_id) filter (where f.state_at_start = 'churned' and f.return_date is not null) as bigint) as won_back,
    cast(
        count(f.person_id) filter (where f.state_at_start = 'churned' and f.return_date is not null)
        / {{ p360_float("nullif(count(f.person_id) filter (where f.state_at_start = 'churned'), 0)") }} as double
    ) as winback_rate,
    cast(count(f.person_id) filter (where f.is_retention_eligible) as bigint) as winback_retention_eligible,
    cast(count(f.person_id) filter (where f.is_retention_eligible and f.is_retained) as bigint) as winback_retained,
    cast(
        count(f.person_id) filter (where f.is_retention_eligible and f.is_retained)
        / {{ p360_float("nullif(count(f.person_id) filter (where f.is_retention_eligible), 0)") }} as double
    ) as winback_retention_rate
from months
left join flags as f on months.month = f.month
group by months.month
