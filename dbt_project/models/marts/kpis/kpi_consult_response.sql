-- Online consult service level by request day and specialty (specialty '(all)' rolls a day up):
--   answered_count       sessions with a first reply; p50/p90_response_minutes over them;
--   within_target_count  answered within consult_response_target_minutes (30);
--   within_target_share  within_target_count / answered_count;
--   critical_redirected_count  critical sessions referred offline with a first reply within
--                        critical_redirect_target_minutes (10; the reply is the redirect);
--   critical_redirect_share    critical_redirected_count / critical_count;
--   abandonment_rate / refund_rate  abandoned / refunded sessions over all requested;
--   mean_rating          mean of the 1-5 ratings given.
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

sessions as (
    select s.*
    from {{ ref('fct_consult_sessions') }} as s
    cross join as_of
    where s.requested_date <= as_of.as_of_date
),

by_day as (
    select
        requested_date,
        coalesce(specialty, '(all)') as specialty,
        count(*) as requested_count,
        count(response_minutes) as answered_count,
        {{ p360_quantile_cont("response_minutes", "0.5") }} as p50_response_minutes,
        {{ p360_quantile_cont("response_minutes", "0.9") }} as p90_response_minutes,
        count(*) filter (where within_target) as within_target_count,
        count(*) filter (where urgency = 'critical') as critical_count,
        count(*) filter (
            where urgency = 'critical' and offline_referral
            and response_minutes <= {{ var('critical_redirect_target_minutes') }}
        ) as critical_redirected_count,
        count(*) filter (where status = 'abandoned') as abandoned_count,
        count(*) filter (where status = 'refunded') as refunded_count,
        avg(rating) as mean_rating
    from sessions
    -- sqlfluff's duckdb dialect has no grammar for grouping sets; the line is valid DuckDB.
    group by grouping sets ((requested_date, specialty), (requested_date))  -- noqa: PRS
)

select
    requested_date,
    specialty,
    cast(requested_count as bigint) as requested_count,
    cast(answered_count as bigint) as answered_count,
    cast(p50_response_minutes as double) as p50_response_minutes,
    cast(p90_response_minutes as double) as p90_response_minutes,
    cast(within_target_count as bigint) as within_target_count,
    cast(within_target_count / {{ p360_float("nullif(answered_count, 0)") }} as double) as within_target_share,
    cast(critical_count as bigint) as critical_count,
    cast(critical_redirected_count as bigint) as critical_redirected_count,
    cast(critical_redirected_count / {{ p360_float("nullif(critical_count, 0)") }} as double) as critical_redirect_share,
    cast(abandoned_count as bigint) as abandoned_count,
    cast(abandoned_count / {{ p360_float("requested_count") }} as double) as abandonment_rate,
    cast(refunded_count as bigint) as refunded_count,
    cast(refunded_count / {{ p360_float("requested_count") }} as double) as refund_rate,
    cast(mean_rating as double) as mean_rating
from by_day
