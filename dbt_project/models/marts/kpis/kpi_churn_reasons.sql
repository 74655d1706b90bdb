-- Churn-reason mix as of D (docs/metrics.md "Churn-reason mix"), two sources:
--   warning_signal       the signals of the churn warning (seg_churn_risk.churn_risk_reasons of the
--                        snapshot for D), per churn_risk_level and '(all)' levels at risk (low,
--                        medium, high): reason_count = people at the level with the reason,
--                        base_count = people at the level; a person has one or more reasons, so
--                        the shares of a level add up to 1 or more;
--   stated_leave_reason  why members left a community group (leave_reason of the memberships
--                        left on or before D): reason_count = leaves giving the reason,
--                        base_count = leaves giving a reason; shares add up to 1.
-- reason_share = reason_count / base_count.
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

at_risk as (
    select
        r.patient_key,
        r.churn_risk_level,
        r.churn_risk_reasons
    from {{ ref('seg_churn_risk') }} as r
    inner join as_of on r.as_of_date = as_of.as_of_date
    where r.churn_risk_level <> 'none'
),

signal_rows as (
    select
        a.patient_key,
        a.churn_risk_level,
        reasons.reason
    from at_risk as a
    {{ p360_cross_join_unnest(p360_split('a.churn_risk_reasons', ';'), 'reasons', 'reason') }}
    where reasons.reason <> ''
),

signal_counts as (
    select
        coalesce(churn_risk_level, '(all)') as churn_risk_level,
        reason,
        count(distinct patient_key) as reason_count
    from signal_rows
    -- sqlfluff's duckdb dialect has no grammar for grouping sets; the line is valid DuckDB.
    group by grouping sets ((churn_risk_level, reason), (reason))  -- noqa: PRS
),

level_counts as (
    select
        coalesce(churn_risk_level, '(all)') as churn_risk_level,
        count(*) as base_count
    from at_risk
    group by grouping sets ((churn_risk_level), ())  -- noqa: PRS
),

leaves as (
    select
        m.leave_reason as reason,
        count(*) as reason_count
    from {{ ref('int_crm__group_memberships_keyed') }} as m
    cross join as_of
    where m.leave_reason is not null and cast(m.left_at as date) <= as_of.as_of_date
    group by m.leave_reason
)

select
    'warning_signal' as reason_source,
    s.churn_risk_level,
    s.reason,
    cast(s.reason_count as bigint) as reason_count,
    cast(l.base_count as bigint) as base_count,
    cast(s.reason_count / {{ p360_float("l.base_count") }} as double) as reason_share
from signal_counts as s
inner join level_counts as l on s.churn_risk_level = l.churn_risk_level
union all
select
    'stated_leave_reason' as reason_source,
    '(all)' as churn_risk_level,
    reason,
    cast(reason_count as bigint) as reason_count,
    cast(sum(reason_count) over () as bigint) as base_count,
    cast(reason_count / sum(reason_count) over () as double) as reason_share
from leaves
