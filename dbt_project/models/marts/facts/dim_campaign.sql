-- Marketing campaigns with their channel's family and budget tier (seed channels).
select
    c.campaign_id,
    c.campaign_name,
    c.channel,
    ch.channel_family,
    ch.budget_tier,
    c.specialty,
    c.start_date,
    c.end_date,
    cast(c.budget as decimal(18, 2)) as budget
from {{ ref('stg_crm__campaigns') }} as c
left join {{ ref('channels') }} as ch on c.channel = ch.channel
