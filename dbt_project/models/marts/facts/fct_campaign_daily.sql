-- Funnel counts and spend per campaign x day (CRM campaign stats), with the campaign's
-- channel and specialty so BI can slice without joining dim_campaign.
select
    s.campaign_id,
    s.stat_date,
    c.channel,
    c.specialty,
    cast(s.impressions as bigint) as impressions,
    cast(s.clicks as bigint) as clicks,
    cast(s.consult_requests as bigint) as consult_requests,
    cast(s.appointments as bigint) as appointments,
    cast(s.spend as decimal(18, 2)) as spend
from {{ ref('stg_crm__campaign_stats') }} as s
left join {{ ref('stg_crm__campaigns') }} as c on s.campaign_id = c.campaign_id
