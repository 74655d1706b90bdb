-- Prescription time by month of request and specialty (docs/metrics.md "Prescription time"),
-- specialty '(all)' rolls a month up; consult sessions requested on or before the as-of date:
--   completed_consults        completed online consults;
--   prescription_consults     completed consults that issued a prescription;
--   prescription_rate         prescription_consults / completed_consults;
--   p50/p90_prescription_minutes, mean_prescription_minutes: minutes from the request to the
--                             session's close, over prescription_consults. The export has no
--                             prescription timestamp: the prescription is issued when the
--                             doctor closes the session, so the close time stands for it.
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

sessions as (
    select
        cast(date_trunc('month', s.requested_date) as date) as month,
        s.specialty,
        s.session_status = 'completed' as is_completed,
        s.session_status = 'completed' and s.prescription_issued as has_prescription,
        {{ p360_date_diff('second', "s.requested_at", "s.closed_at") }} / {{ p360_float("60.0") }} as minutes_to_close
    from {{ ref('int_consult__sessions_keyed') }} as s
    cross join as_of
    where s.requested_date <= as_of.as_of_date
),

by_specialty as (
    select
        month,
        coalesce(specialty, '(all)') as specialty,
        count(*) filter (where is_completed) as completed_consults,
        count(*) filter (where has_prescription) as prescription_consults,
        {{ p360_quantile_cont("minutes_to_close", "0.5") }} filter (where has_prescription) as p50_minutes,
        {{ p360_quantile_cont("minutes_to_close", "0.9") }} filter (where has_prescription) as p90_minutes,
        avg(minutes_to_close) filter (where has_prescription) as mean_minutes
    from sessions
    where specialty is not null
    -- sqlfluff's duckdb dialect has no grammar for grouping sets; the line is valid DuckDB.
    group by grouping sets ((month, specialty), (month))  -- noqa: PRS
)

select
    month,
    specialty,
    cast(completed_consults as bigint) as completed_consults,
    cast(prescription_consults as bigint) as prescription_consults,
    cast(prescription_consults / {{ p360_float("nullif(completed_consults, 0)") }} as double) as prescription_rate,
    cast(p50_minutes as double) as p50_prescription_minutes,
    cast(p90_minutes as double) as p90_prescription_minutes,
    cast(mean_minutes as double) as mean_prescription_minutes
from by_specialty
