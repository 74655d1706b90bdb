-- KPIs by specialty and month (docs/metrics.md "Specialty"), specialty '(all)' rolls a month up;
-- visits and consults dated on or before the as-of date:
--   patients_served      people with a visit or a completed consult in the specialty and month;
--   visits               HIS visits (any type); consult_requests, completed_consults (online);
--   consult_completion_rate  completed_consults / consult_requests;
--   billed_revenue       visit charges + completed consults' fees (what was billed, by the
--                        specialty that served; payments carry no specialty);
--   revenue_per_patient  billed_revenue / patients_served (revenue per user);
--   mean_consult_rating  mean 1-5 rating of the consults.
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

services as (
    select
        v.person_id,
        cast(date_trunc('month', v.visit_date) as date) as month,
        v.specialty,
        1 as is_visit,
        0 as is_request,
        0 as is_completed,
        cast(coalesce(v.charge_amount, 0) as decimal(18, 2)) as billed,
        cast(null as integer) as rating
    from {{ ref('int_his__visits_keyed') }} as v
    cross join as_of
    where v.visit_date <= as_of.as_of_date
    union all
    select
        s.person_id,
        cast(date_trunc('month', s.requested_date) as date) as month,
        s.specialty,
        0 as is_visit,
        1 as is_request,
        cast(s.session_status = 'completed' as integer) as is_completed,
        cast(case when s.session_status = 'completed' then s.fee else 0 end as decimal(18, 2)) as billed,
        s.rating
    from {{ ref('int_consult__sessions_keyed') }} as s
    cross join as_of
    where s.requested_date <= as_of.as_of_date
),

by_specialty as (
    select
        month,
        coalesce(specialty, '(all)') as specialty,
        count(distinct person_id) filter (where is_visit = 1 or is_completed = 1) as patients_served,
        sum(is_visit) as visits,
        sum(is_request) as consult_requests,
        sum(is_completed) as completed_consults,
        sum(billed) as billed_revenue,
        avg(rating) as mean_consult_rating
    from services
    where specialty is not null
    -- sqlfluff's duckdb dialect has no grammar for grouping sets; the line is valid DuckDB.
    group by grouping sets ((month, specialty), (month))  -- noqa: PRS
)

select
    month,
    specialty,
    cast(patients_served as bigint) as patients_served,
    cast(visits as bigint) as visits,
    cast(consult_requests as bigint) as consult_requests,
    cast(completed_consults as bigint) as completed_consults,
    cast(completed_consults / {{ p360_float("nullif(consult_requests, 0)") }} as double) as consult_completion_rate,
    cast(billed_revenue as decimal(18, 2)) as billed_revenue,
    cast(billed_revenue / {{ p360_float("nullif(patients_served, 0)") }} as double) as revenue_per_patient,
    cast(mean_consult_rating as double) as mean_consult_rating
from by_specialty
