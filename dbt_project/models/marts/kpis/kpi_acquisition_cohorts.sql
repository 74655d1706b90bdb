-- Acquisition-cohort economics (docs/metrics.md "Acquisition economics"): one row per
-- acquisition month x channel x campaign (campaign_id '(all)' rolls a channel up; 'organic'
-- = acquired without a campaign touch) x horizon H in ltv_horizons_days (90, 365):
--   acquired_patients  people acquired in the month through it (int_kpi__person_acquisition);
--   spend, cac         the month's campaign spend and spend / acquired_patients;
--   horizon_revenue    what the cohort paid from each member's acquired date through day H - 1
--                      after it (days [acquired, acquired + H - 1]);
--   horizon_margin     horizon_revenue x margin_rate;
--   is_mature          the whole horizon of every member lies on or before the as-of date
--                      (acquisition month end + H - 1 <= as-of); immature rows keep their
--                      counts but have null ROI, LTV, LTV:CAC and payback: never average them in;
--   roi                horizon_revenue / spend (revenue multiple, the field's 1:N);
--   ltv                horizon_margin / acquired_patients; ltv_to_cac = ltv / cac;
--   payback_days       first day offset d (1-based) at which the cohort's cumulative margin
--                      covers its spend; null when not reached within H;
--   meets_roi_target   roi >= roi_target (5).
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

horizons as (
    select cast(h.horizon_days as integer) as horizon_days
    from {{ p360_values(var('ltv_horizons_days'), 'h', 'horizon_days') }}
),

people as (
    select
        person_id,
        acquired_date,
        acquisition_month,
        acquisition_channel as channel,
        acquisition_campaign_id as campaign_id
    from {{ ref('int_kpi__person_acquisition') }}
    where acquired_date is not null
),

spend as (
    select
        cast(date_trunc('month', s.stat_date) as date) as acquisition_month,
        coalesce(s.channel, 'unknown') as channel,
        s.campaign_id,
        sum(s.spend) as spend
    from {{ ref('fct_campaign_daily') }} as s
    cross join as_of
    where s.stat_date <= as_of.as_of_date
    group by all
),

-- revenue per person and day offset inside the horizon
person_revenue as (
    select
        p.acquisition_month,
        p.channel,
        p.campaign_id,
        h.horizon_days,
        {{ p360_date_diff('day', "p.acquired_date", "e.event_date") }} as day_offset,
        sum(e.revenue) as revenue
    from people as p
    cross join horizons as h
    inner join {{ ref('int_patient__events') }} as e
        on
            p.person_id = e.person_id
            and e.revenue > 0
            and e.event_date between p.acquired_date and p.acquired_date + h.horizon_days - 1
    group by all
),

keys as (
    select
        p.acquisition_month,
        p.channel,
        p.campaign_id,
        h.horizon_days,
        count(*) as acquired_patients
    from people as p
    cross join horizons as h
    group by all
    union all
    select
        p.acquisition_month,
        p.channel,
        '(all)' as campaign_id,
        h.horizon_days,
        count(*) as acquired_patients
    from people as p
    cross join horizons as h
    group by all
),

offsets as (
    select
        acquisition_month,
        channel,
        campaign_id,
        horizon_days,
        day_offset,
        sum(revenue) as revenue
    from person_revenue
    group by all
    union all
    select
        acquisition_month,
        channel,
        '(all)' as campaign_id,
        horizon_days,
        day_offset,
        sum(revenue) as revenue
    from person_revenue
    group by all
),

cumulative as (
    select
        *,
        sum(revenue) over (
            partition by acquisition_month, channel, campaign_id, horizon_days
            order by day_offset rows unbounded preceding
        ) * {{ var('margin_rate') }} as cumulative_margin
    from offsets
),

spend_rollup as (
    select * from spend
    union all
    select
        acquisition_month,
        channel,
        '(all)' as campaign_id,
        sum(spend) as spend
    from spend
    group by all
),

cohorts as (
    select
        k.acquisition_month,
        k.channel,
        k.campaign_id,
        k.horizon_days,
        k.acquired_patients,
        s.spend,
        coalesce((
            select sum(o.revenue) from offsets as o
            where
                o.acquisition_month = k.acquisition_month and o.channel = k.channel
                and o.campaign_id = k.campaign_id and o.horizon_days = k.horizon_days
        ), 0) as horizon_revenue,
        (
            select min(c.day_offset) + 1 from cumulative as c
            where
                c.acquisition_month = k.acquisition_month and c.channel = k.channel
                and c.campaign_id = k.campaign_id and c.horizon_days = k.horizon_days
                and c.cumulative_margin >= s.spend
        ) as payback_days,
        cast(k.acquisition_month + interval 1 month - interval 1 day as date) + k.horizon_days - 1
        <= as_of.as_of_date as is_mature
    from keys as k
    cross join as_of
    left join spend_rollup as s
        on k.acquisition_month = s.acquisition_month and k.channel = s.channel and k.campaign_id = s.campaign_id
)

select
    acquisition_month,
    channel,
    campaign_id,
    horizon_days,
    cast(acquired_patients as bigint) as acquired_patients,
    cast(coalesce(spend, 0) as decimal(18, 2)) as spend,
    cast(spend / {{ p360_float("nullif(acquired_patients, 0)") }} as double) as cac,
    cast(horizon_revenue as decimal(18, 2)) as horizon_revenue,
    cast(horizon_revenue * {{ var('margin_rate') }} as decimal(18, 2)) as horizon_margin,
    is_mature,
    cast(case when is_mature then horizon_revenue / {{ p360_float("nullif(spend, 0)") }} end as double) as roi,
    cast(case when is_mature then horizon_revenue * {{ var('margin_rate') }} / {{ p360_float("acquired_patients") }} end as double) as ltv,
    cast(
        case
            when is_mature
                then
                    horizon_revenue * {{ var('margin_rate') }} / {{ p360_float("acquired_patients") }}
                    / {{ p360_float("nullif(spend / " ~ p360_float('acquired_patients') ~ ", 0)") }}
        end
        as double
    ) as ltv_to_cac,
    cast(case when is_mature then payback_days end as integer) as payback_days,
    case when is_mature then horizon_revenue / {{ p360_float("nullif(spend, 0)") }} >= {{ var('roi_target') }} end as meets_roi_target
from cohorts
