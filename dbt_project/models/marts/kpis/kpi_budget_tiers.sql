-- Budget split by tier against the 70/20/10 rule (docs/metrics.md "Budget tiers"): per month
-- and budget tier (seed channels via dim_channel: proven / promising / experimental), the
-- campaign spend, its share of the month's spend and the target share
-- (budget_tier_target_shares: 0.7 / 0.2 / 0.1); share_gap = spend_share - target_share.
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

tiers as (
    select
        t.budget_tier,
        cast(t.target_share as double) as target_share
    from (
        values
        {%- for tier, share in var('budget_tier_target_shares').items() %}
            ('{{ tier }}', {{ share }}){{ "," if not loop.last }}
        {%- endfor %}
    ) as t (budget_tier, target_share)
),

spend as (
    select
        cast(date_trunc('month', s.stat_date) as date) as month,
        coalesce(ch.budget_tier, 'unknown') as budget_tier,
        sum(s.spend) as spend
    from {{ ref('fct_campaign_daily') }} as s
    cross join as_of
    left join {{ ref('dim_channel') }} as ch on s.channel = ch.channel
    where s.stat_date <= as_of.as_of_date
    group by all
),

months as (
    select distinct month from spend
)

select
    months.month,
    tiers.budget_tier,
    cast(coalesce(s.spend, 0) as decimal(18, 2)) as spend,
    cast(coalesce(s.spend, 0) / {{ p360_float("nullif(sum(coalesce(s.spend, 0)) over (partition by months.month), 0)") }} as double)
        as spend_share,
    tiers.target_share,
    cast(
        coalesce(s.spend, 0)
        / {{ p360_float("nullif(sum(coalesce(s.spend, 0)) over (partition by months.month), 0)") }}
        - tiers.target_share
        as double
    ) as share_gap
from months
cross join tiers
left join spend as s on months.month = s.month and tiers.budget_tier = s.budget_tier
