-- Channel economics per month x channel x campaign (docs/metrics.md "Acquisition economics");
-- campaign_id '(all)' rolls a channel up; channel 'organic' holds people acquired without a
-- campaign touch (never charged to a channel). Acquisition: int_kpi__person_acquisition.
--   spend             campaign spend in the month (fct_campaign_daily, up to the as-of date);
--   acquired_patients people acquired in the month through the channel/campaign;
--   cac               spend / acquired_patients (null without spend records or acquisitions);
--   revenue           what the people acquired through it (any month) paid in the month;
--   paying_patients   of them, people who paid in the month; revenue_per_paying_patient = revenue / paying;
--   meets_cac_target  cac <= cac_target_yuan (800).
-- Cohort ROI, LTV, LTV:CAC and payback over fixed horizons: kpi_acquisition_cohorts.
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

spend as (
    select
        cast(date_trunc('month', s.stat_date) as date) as month,
        coalesce(s.channel, 'unknown') as channel,
        s.campaign_id,
        sum(s.spend) as spend
    from {{ ref('fct_campaign_daily') }} as s
    cross join as_of
    where s.stat_date <= as_of.as_of_date
    group by all
),

people as (
    select
        person_id,
        acquisition_channel as channel,
        acquisition_campaign_id as campaign_id,
        acquisition_month
    from {{ ref('int_kpi__person_acquisition') }}
    where acquired_date is not null
),

acquired as (
    select
        acquisition_month as month,
        channel,
        campaign_id,
        count(*) as acquired_patients
    from people
    group by all
),

revenue as (
    select
        cast(date_trunc('month', e.event_date) as date) as month,
        p.channel,
        p.campaign_id,
        sum(e.revenue) as revenue,
        count(distinct e.person_id) as paying_patients
    from {{ ref('int_patient__events') }} as e
    inner join people as p on e.person_id = p.person_id
    where e.revenue > 0
    group by all
),

keys as (
    select
        month,
        channel,
        campaign_id
    from spend
    union
    select
        month,
        channel,
        campaign_id
    from acquired
    union
    select
        month,
        channel,
        campaign_id
    from revenue
),

by_campaign as (
    select
        k.month,
        k.channel,
        k.campaign_id,
        coalesce(s.spend, 0) as spend,
        s.spend is not null as has_spend,
        coalesce(a.acquired_patients, 0) as acquired_patients,
        coalesce(r.revenue, 0) as revenue,
        coalesce(r.paying_patients, 0) as paying_patients
    from keys as k
    left join spend as s on k.month = s.month and k.channel = s.channel and k.campaign_id = s.campaign_id
    left join acquired as a on k.month = a.month and k.channel = a.channel and k.campaign_id = a.campaign_id
    left join revenue as r on k.month = r.month and k.channel = r.channel and k.campaign_id = r.campaign_id
),

with_rollup as (
    select * from by_campaign
    union all
    select
        month,
        channel,
        '(all)' as campaign_id,
        sum(spend) as spend,
        bool_or(has_spend) as has_spend,
        sum(acquired_patients) as acquired_patients,
        sum(revenue) as revenue,
        sum(paying_patients) as paying_patients
    from by_campaign
    group by month, channel
)

select
    month,
    channel,
    campaign_id,
    cast(spend as decimal(18, 2)) as spend,
    has_spend,
    cast(acquired_patients as bigint) as acquired_patients,
    cast(case when has_spend then spend / {{ p360_float("nullif(acquired_patients, 0)") }} end as double) as cac,
    cast(revenue as decimal(18, 2)) as revenue,
    cast(paying_patients as bigint) as paying_patients,
    cast(revenue / {{ p360_float("nullif(paying_patients, 0)") }} as double) as revenue_per_paying_patient,
    case
        when has_spend then spend / {{ p360_float("nullif(acquired_patients, 0)") }}
    end <= {{ var('cac_target_yuan') }} as meets_cac_target
from with_rollup
