-- Acquisition channels (seed channels) with their 70/20/10 budget tier.
select
    cast(channel as {{ dbt.type_string() }}) as channel,
    cast(channel_label as {{ dbt.type_string() }}) as channel_label,
    cast(channel_family as {{ dbt.type_string() }}) as channel_family,
    cast(budget_tier as {{ dbt.type_string() }}) as budget_tier
from {{ ref('channels') }}
