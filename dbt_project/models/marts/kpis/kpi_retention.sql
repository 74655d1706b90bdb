-- N-day retention by monthly acquisition cohort, from the person x month spine.
-- Cohort: month of the acquisition date (first day seen by any source, else first service).
-- For each horizon N in retention_horizons_days (default 7, 30, 90):
--   eligible  = cohort members acquired at least N days before the as-of date
--               (acquisition_date + N <= as_of_date), so immature cohorts are not understated;
--   retained  = eligible members active (any interaction) on some day on or after
--               acquisition_date + N ("unbounded" retention: monotone in N for one person);
--   retention_rate = retained / eligible (null when nobody is eligible yet).
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

persons as (
    select
        patient_key,
        cohort_month,
        acquisition_date,
        max(last_active_date) as last_active_date
    from {{ ref('int_kpi__person_month') }}
    group by all
),

horizons as (
    select cast(h.horizon_days as integer) as horizon_days
    from unnest({{ var('retention_horizons_days') }}) as h (horizon_days)
),

flags as (
    select
        persons.cohort_month,
        horizons.horizon_days,
        persons.acquisition_date + horizons.horizon_days <= as_of.as_of_date as is_eligible,
        persons.acquisition_date + horizons.horizon_days <= as_of.as_of_date
        and coalesce(persons.last_active_date >= persons.acquisition_date + horizons.horizon_days, false) as is_retained
    from persons
    cross join horizons
    cross join as_of
)

select
    cohort_month,
    horizon_days,
    cast(count(*) as bigint) as cohort_size,
    cast(count(*) filter (where is_eligible) as bigint) as eligible_patients,
    cast(count(*) filter (where is_retained) as bigint) as retained_patients,
    cast(count(*) filter (where is_retained) / nullif(count(*) filter (where is_eligible), 0) as double) as retention_rate
from flags
group by cohort_month, horizon_days
