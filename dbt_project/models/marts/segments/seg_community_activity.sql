-- Community activity tier (business_rules.md "Community activity tiers"), for current members:
-- weekly interactions = community events in the last 28 days / 4; purchases in the last 30 days;
-- indicators on target = HbA1c and BP controlled where measured (no indicator counts as on target).
--   high_value_active: >= community_high_weekly_interactions a week, >= community_high_monthly_purchases
--                      purchases, indicators on target
--   potential_active:  >= community_potential_weekly_interactions a week and no value-added
--                      purchase in the last 30 days (the rule's "no purchase yet": the upsell target)
--   low_frequency:     every other member (incl. purchasers below the high bar); non_member: not in a group.
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

activity as (
    select
        e.person_id,
        count(*) filter (where e.event_type like 'community_%' and e.event_date > a.as_of_date - interval 28 day)
        / {{ p360_float("cast(4 as double)") }}
            as weekly_interactions,
        count(*) filter (where e.event_type = 'community_purchase' and e.event_date > a.as_of_date - interval 30 day)
            as purchases_30d
    from {{ ref('int_patient__events') }} as e
    cross join as_of as a
    where e.event_date <= a.as_of_date
    group by e.person_id
)

-- joined on the integer person_id; patient_key comes with the person row (attached once upstream)
select
    d.patient_key,
    as_of.as_of_date,
    coalesce(c.community_member, false) as community_member,
    coalesce(act.weekly_interactions, 0) as weekly_interactions,
    coalesce(act.purchases_30d, 0) as purchases_30d,
    coalesce(cl.hba1c_controlled, true) and coalesce(
        cl.latest_sbp < {{ var('sbp_target_mmhg') }} and cl.latest_dbp < {{ var('dbp_target_mmhg') }}, true
    ) as indicators_on_target,
    case
        when not coalesce(c.community_member, false) then 'non_member'
        when
            coalesce(act.weekly_interactions, 0) >= {{ var('community_high_weekly_interactions') }}
            and coalesce(act.purchases_30d, 0) >= {{ var('community_high_monthly_purchases') }}
            and coalesce(cl.hba1c_controlled, true)
            and coalesce(cl.latest_sbp < {{ var('sbp_target_mmhg') }} and cl.latest_dbp < {{ var('dbp_target_mmhg') }}, true)
            then 'high_value_active'
        when
            coalesce(act.weekly_interactions, 0) >= {{ var('community_potential_weekly_interactions') }}
            and coalesce(act.purchases_30d, 0) = 0
            then 'potential_active'
        else 'low_frequency'
    end as community_activity_tier
from {{ ref('int_patient__demographics') }} as d
cross join as_of
left join {{ ref('int_patient__crm') }} as c on d.person_id = c.person_id
left join activity as act on d.person_id = act.person_id
left join {{ ref('int_patient__clinical') }} as cl on d.person_id = cl.person_id
