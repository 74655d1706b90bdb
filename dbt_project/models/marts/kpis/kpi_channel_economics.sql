-- Channel economics per month x channel x campaign (campaign_id '(all)' rolls a channel up),
-- persons attributed to the channel/campaign of their earliest CRM contact:
--   spend            campaign spend in the month (fct_campaign_daily, up to the as-of date);
--   new_patients     attributed persons whose first service falls in the month;
--   cac              spend / new_patients (null without campaign spend records: organic/unattributed);
--   revenue          what attributed persons paid in the month; active_patients: of them active;
--   arpu             revenue / active_patients;
--   ltv_to_date      cumulative LTV of the month's new-patient cohort: everything that cohort
--                    paid up to the as-of date / new_patients;
--   roi              revenue / spend (short-term, the month's revenue of the channel's patients);
--   ltv_to_cac       ltv_to_date / cac;
--   meets_cac_target cac <= cac_target_yuan (800); meets_roi_target roi >= roi_target (5).
-- Ratios are null on a zero denominator; flags are null when their ratio is.
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
        patient_key,
        acquisition_channel as channel,
        acquisition_campaign_id as campaign_id,
        cast(date_trunc('month', first_service_date) as date) as first_service_month,
        total_revenue
    from {{ ref('int_kpi__person_acquisition') }}
),

new_patients as (
    select
        first_service_month as month,
        channel,
        campaign_id,
        count(*) as new_patients,
        sum(total_revenue) as cohort_revenue_to_date
    from people
    where first_service_month is not null
    group by all
),

revenue as (
    select
        pm.month,
        pm.acquisition_channel as channel,
        pm.acquisition_campaign_id as campaign_id,
        sum(pm.revenue) as revenue,
        count(*) filter (where pm.is_active) as active_patients
    from {{ ref('int_kpi__person_month') }} as pm
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
    from new_patients
    union
    select
        month,
        channel,
        campaign_id
    from revenue
    where revenue > 0 or active_patients > 0
),

by_campaign as (
    select
        k.month,
        k.channel,
        k.campaign_id,
        coalesce(s.spend, 0) as spend,
        s.spend is not null as has_spend,
        coalesce(n.new_patients, 0) as new_patients,
        coalesce(n.cohort_revenue_to_date, 0) as cohort_revenue_to_date,
        coalesce(r.revenue, 0) as revenue,
        coalesce(r.active_patients, 0) as active_patients
    from keys as k
    left join spend as s on k.month = s.month and k.channel = s.channel and k.campaign_id = s.campaign_id
    left join new_patients as n on k.month = n.month and k.channel = n.channel and k.campaign_id = n.campaign_id
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
        sum(new_patients) as new_patients,
        sum(cohort_revenue_to_date) as cohort_revenue_to_date,
        sum(revenue) as revenue,
        sum(active_patients) as active_patients
    from by_campaign
    group by month, channel
),

ratios as (
    select
        *,
        case when has_spend then spend / nullif(new_patients, 0) end as cac,
        revenue / nullif(active_patients, 0) as arpu,
        cohort_revenue_to_date / nullif(new_patients, 0) as ltv_to_date,
        case when has_spend then revenue / nullif(spend, 0) end as roi
    from with_rollup
)

select
    month,
    channel,
    campaign_id,
    cast(spend as decimal(18, 2)) as spend,
    has_spend,
    cast(new_patients as bigint) as new_patients,
    cast(cac as double) as cac,
    cast(revenue as decimal(18, 2)) as revenue,
    cast(active_patients as bigint) as active_patients,
    cast(arpu as double) as arpu,
    cast(cohort_revenue_to_date as decimal(18, 2)) as cohort_revenue_to_date,
    cast(ltv_to_date as double) as ltv_to_date,
    cast(roi as double) as roi,
    cast(ltv_to_date / nullif(cac, 0) as double) as ltv_to_cac,
    cac <= {{ var('cac_target_yuan') }} as meets_cac_target,
    roi >= {{ var('roi_target') }} as meets_roi_target
from ratios
