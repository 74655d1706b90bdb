-- The month spine of every KPI: one row per calendar month from the month of the earliest
-- day the data knows (first registration, contact, consult, binding or interaction of any
-- person) to the month of the run's as-of date. month_end is the month's last day, or the
-- as-of date in the current month; observed_days counts the days from the month's first
-- day to month_end. Each KPI keeps the months from its own first month on.
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

bounds as (
    select
        least(
            (select min(registered_date) from {{ ref('int_patient__demographics') }}),
            (select min(event_date) from {{ ref('int_patient__events') }})
        ) as first_day
),

months as (
    select cast(m.month as date) as month  -- noqa: RF04
    from bounds
    cross join as_of
    {{ p360_cross_join_unnest(p360_series(
        "cast(date_trunc('month', bounds.first_day) as timestamp)",
        "cast(date_trunc('month', as_of.as_of_date) as timestamp)",
        'interval 1 month'
    ), 'm', 'month') }}
    where bounds.first_day is not null
)

select
    months.month,
    least(cast(months.month + interval 1 month - interval 1 day as date), as_of.as_of_date) as month_end,
    {{ p360_date_diff('day', "months.month", "least(cast(months.month + interval 1 month - interval 1 day as date), as_of.as_of_date)") }}
    + 1 as observed_days
from months
cross join as_of
