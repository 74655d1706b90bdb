-- The day spine of every KPI: one row per calendar day of the months in int_calendar__months,
-- from the first day of its first month to the run's as-of date. Each KPI keeps the days
-- from its own first day on.
select
    cast(d.day as date) as day,  -- noqa: RF04
    months.month
from {{ ref('int_calendar__months') }} as months
{{ p360_cross_join_unnest(
    p360_series('cast(months.month as timestamp)', 'cast(months.month_end as timestamp)', 'interval 1 day'), 'd', 'day'
) }}
