-- N-day retention by monthly registration cohort on fixed windows (docs/metrics.md "Retention").
-- Cohort: month of the registration date (first day any source saw the person). For each
-- horizon N in retention_horizons_days (default 7, 30, 90):
--   window     = days [registered_date + N, registered_date + 2N - 1], both ends inclusive
--                (7: days 7-13, 30: days 30-59, 90: days 90-179);
--   eligible   = cohort members whose whole window lies on or before the as-of date;
--   retained   = eligible members with an active day (int_patient__activity_days) in the window;
--   retention_rate = retained / eligible (null when nobody is eligible yet);
--   is_mature  = every cohort member is eligible: only mature rows may be compared or averaged.
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

persons as (
    select
        person_id,
        cohort_month,
        registered_date
    from {{ ref('int_kpi__person_acquisition') }}
),

horizons as (
    select cast(h.horizon_days as integer) as horizon_days
    from {{ p360_values(var('retention_horizons_days'), 'h', 'horizon_days') }}
),

windows as (
    select
        persons.person_id,
        persons.cohort_month,
        horizons.horizon_days,
        persons.registered_date + horizons.horizon_days as window_start,
        persons.registered_date + 2 * horizons.horizon_days - 1 as window_end,
        persons.registered_date + 2 * horizons.horizon_days - 1 <= as_of.as_of_date as is_eligible
    from persons
    cross join horizons
    cross join as_of
),

flags as (
    select
        w.cohort_month,
        w.horizon_days,
        w.person_id,
        any_value(w.is_eligible) as is_eligible,
        any_value(w.is_eligible) and count(a.activity_date) > 0 as is_retained
    from windows as w
    left join {{ ref('int_patient__activity_days') }} as a
        on w.person_id = a.person_id and a.activity_date between w.window_start and w.window_end
    group by w.cohort_month, w.horizon_days, w.person_id
)

select
    cohort_month,
    horizon_days,
    cast(count(*) as bigint) as cohort_size,
    cast(count(*) filter (where is_eligible) as bigint) as eligible_patients,
    cast(count(*) filter (where is_retained) as bigint) as retained_patients,
    cast(
        count(*) filter (where is_retained)
        / {{ p360_float("nullif(count(*) filter (where is_eligible), 0)") }} as double
    ) as retention_rate,
    bool_and(is_eligible) as is_mature
from flags
group by cohort_month, horizon_days
