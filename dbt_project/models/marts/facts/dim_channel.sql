-- Acquisition channels (seed channels) with their 70/20/10 budget tier.
select
    cast(channel as varchar) as channel,
    cast(channel_label as varchar) as channel_label,
    cast(channel_family as varchar) as channel_family,
    cast(budget_tier as varchar) as budget_tier
from {{ ref('channels') }}
