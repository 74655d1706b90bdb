-- RFM value tier (business_rules.md "Value and need"). Among people with at least one service:
-- recency, frequency (service days) and monetary (total spend) quintile scores, 5 = best
-- (1 + floor(5 x (rank - 1) / n): tied people share a score, never split across quintiles
-- by key); score = R + F + M
-- plus a health-contribution bonus (health talks attended + referrals made, capped at
-- rfm_contribution_bonus_cap). Tier: high (>= rfm_high_min_score), mid (>=
-- rfm_mid_min_score), low; people without services are 'no_service'.
{{ config(
    materialized='incremental',
    unique_key='as_of_date',
    incremental_strategy=p360_incremental_strategy(),
    partition_by=p360_partition_by('as_of_date'),
    on_schema_change='append_new_columns'
) }}

with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

served as (
    select
        s.person_id,
        s.last_service_date,
        s.service_days,
        s.total_revenue
    from {{ ref('int_patient__service_summary') }} as s
    where s.service_days > 0
),

contribution as (
    select
        e.person_id,
        count(*) filter (where e.event_type = 'community_health_talk') as health_talks,
        count(*) filter (where e.event_type = 'community_referral') as referral_events
    from {{ ref('int_patient__events') }} as e
    group by e.person_id
),

scored as (
    select
        served.*,
        cast(1 + floor(5 * (rank() over (order by served.last_service_date) - 1) / count(*) over ()) as bigint)
            as r_score,
        cast(1 + floor(5 * (rank() over (order by served.service_days) - 1) / count(*) over ()) as bigint)
            as f_score,
        cast(1 + floor(5 * (rank() over (order by served.total_revenue) - 1) / count(*) over ()) as bigint)
            as m_score
    from served
)

-- joined on the integer person_id; patient_key comes with the person row (attached once upstream)
select
    d.patient_key,
    as_of.as_of_date,
    {{ person_month('scored.last_service_date') }} as last_service_date,
    coalesce(scored.service_days, 0) as service_days,
    cast(coalesce(scored.total_revenue, 0) as decimal(18, 2)) as total_spend,
    scored.r_score,
    scored.f_score,
    scored.m_score,
    least(coalesce(c.health_talks, 0) + coalesce(c.referral_events, 0), {{ var('rfm_contribution_bonus_cap') }})
        as contribution_bonus,
    scored.r_score + scored.f_score + scored.m_score
    + least(coalesce(c.health_talks, 0) + coalesce(c.referral_events, 0), {{ var('rfm_contribution_bonus_cap') }})
        as rfm_score,
    case
        when scored.person_id is null then 'no_service'
        when
            scored.r_score + scored.f_score + scored.m_score + least(
                coalesce(c.health_talks, 0)
                + coalesce(c.referral_events, 0), {{ var('rfm_contribution_bonus_cap') }}
            ) >= {{ var('rfm_high_min_score') }}
            then 'high'
        when
            scored.r_score + scored.f_score + scored.m_score + least(
                coalesce(c.health_talks, 0)
                + coalesce(c.referral_events, 0), {{ var('rfm_contribution_bonus_cap') }}
            ) >= {{ var('rfm_mid_min_score') }}
            then 'mid'
        else 'low'
    end as value_tier
from {{ ref('int_patient__demographics') }} as d
cross join as_of
left join scored on d.person_id = scored.person_id
left join contribution as c on d.person_id = c.person_id
