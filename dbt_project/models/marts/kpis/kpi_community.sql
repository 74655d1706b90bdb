-- Community KPIs by calendar month (days after the as-of date not counted). People, not
-- CRM records: contacts are keyed to the person (person_id). Community interactions = points-ledger
-- events other than redemptions (check-in, health talk, task, referral, purchase).
--   join_conversion       of the people first contacted in the month, the share who ever joined a group;
--   community_retention   of the people who first joined in the month at least community_retention_days (7)
--                         before the as-of date, the share with an interaction on or after join day + 7;
--   members               people in a group at some point of the month;
--   tasks_per_member      task_completed events / members;
--   weekly_interactions_per_member  interactions / members / (observed days / 7);
--   vas_penetration       members with a purchase (value-added service) in the month / members;
--   referral_conversion   people referred in the month with a service on or after the referral day
--                         (by the as-of date) / referred;
-- Point-in-time: contacts, memberships (a leave after the as-of date is not yet known), points and
-- referrals dated after the as-of date are ignored.
--   community_churn_rate  members at month end with no interaction in the last community_churn_days / members at month end.
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

-- inputs, one row per person (or per membership / interaction)
contacts as (
    select
        person_id,
        cast(min(created_at) as date) as first_contact_date
    from {{ ref('int_crm__contacts_keyed') }}
    where cast(created_at as date) <= (select a.as_of_date from as_of as a)
    group by person_id
),

memberships as (
    select
        m.person_id,
        cast(m.joined_at as date) as joined_date,
        case when cast(m.left_at as date) <= as_of.as_of_date then cast(m.left_at as date) end as left_date
    from {{ ref('int_crm__group_memberships_keyed') }} as m
    cross join as_of
    where cast(m.joined_at as date) <= as_of.as_of_date
),

first_joins as (
    select
        person_id,
        min(joined_date) as first_joined_date
    from memberships
    group by person_id
),

interactions as (
    select
        p.person_id,
        p.occurred_date,
        cast(date_trunc('month', p.occurred_date) as date) as interaction_month,
        p.event_type
    from {{ ref('int_crm__points_ledger_keyed') }} as p
    cross join as_of
    where p.occurred_date <= as_of.as_of_date and p.event_type <> 'redeem'
),

last_interactions as (
    select
        person_id,
        max(occurred_date) as last_interaction_date
    from interactions
    group by person_id
),

referees as (
    select
        referee_person_id as person_id,
        cast(min(referred_at) as date) as referred_date
    from {{ ref('int_crm__referrals_keyed') }}
    where referee_person_id is not null and cast(referred_at as date) <= (select a.as_of_date from as_of as a)
    group by referee_person_id
),

-- the month spine from the month of the first contact on
months as (
    select
        month,
        month_end,
        observed_days
    from {{ ref('int_calendar__months') }}
    where month >= (select date_trunc('month', min(c.first_contact_date)) from contacts as c)
),

-- one row per month and person in a group at some point of the month
member_months as (
    select distinct
        months.month,
        m.person_id,
        bool_or(m.left_date is null or m.left_date > months.month_end)
            over (partition by months.month, m.person_id) as member_at_end
    from months
    inner join memberships as m
        on months.month_end >= m.joined_date and (m.left_date is null or months.month <= m.left_date)
),

-- one CTE per metric, each by month
join_conversion as (
    select
        cast(date_trunc('month', c.first_contact_date) as date) as contact_month,
        count(*) as new_contacts,
        count(fj.person_id) as joined_contacts
    from contacts as c
    left join first_joins as fj on c.person_id = fj.person_id
    group by all
),

community_retention as (
    select
        cast(date_trunc('month', fj.first_joined_date) as date) as join_month,
        count(*) as retention_eligible,
        count(*) filter (
            where li.last_interaction_date >= fj.first_joined_date + {{ var('community_retention_days') }}
        ) as retained_members
    from first_joins as fj
    cross join as_of
    left join last_interactions as li on fj.person_id = li.person_id
    where fj.first_joined_date + {{ var('community_retention_days') }} <= as_of.as_of_date
    group by all
),

members as (
    select
        month,
        count(*) as members
    from member_months
    group by month
),

tasks as (
    select
        interaction_month,
        count(*) as task_completions
    from interactions
    where event_type = 'task_completed'
    group by interaction_month
),

weekly_interactions as (
    select
        interaction_month,
        count(*) as interactions
    from interactions
    group by interaction_month
),

vas_penetration as (
    select
        i.interaction_month,
        count(distinct i.person_id) as purchasing_members
    from interactions as i
    inner join member_months as mm on i.person_id = mm.person_id and i.interaction_month = mm.month
    where i.event_type = 'purchase'
    group by i.interaction_month
),

referral_conversion as (
    select
        cast(date_trunc('month', r.referred_date) as date) as referral_month,
        count(*) as referees,
        count(*) filter (where r.served_after) as converted_referees
    from (
        select
            r.person_id,
            any_value(r.referred_date) as referred_date,
            count(e.event_date) > 0 as served_after
        from referees as r
        left join {{ ref('int_patient__events') }} as e
            on r.person_id = e.person_id and e.is_service and r.referred_date <= e.event_date
        group by r.person_id
    ) as r
    group by all
),

-- members at month end with an interaction in the last community_churn_days of the month
recently_active_members as (
    select distinct
        mm.month,
        mm.person_id
    from member_months as mm
    inner join months on mm.month = months.month
    inner join interactions as i
        on
            mm.person_id = i.person_id
            and i.occurred_date > months.month_end - {{ var('community_churn_days') }}
            and months.month_end >= i.occurred_date
    where mm.member_at_end
),

community_churn as (
    select
        mm.month,
        count(*) as members_at_end,
        count(*) filter (where ra.person_id is null) as churned_members
    from member_months as mm
    left join recently_active_members as ra on mm.month = ra.month and mm.person_id = ra.person_id
    where mm.member_at_end
    group by mm.month
),

per_month as (
    select
        months.month,
        months.observed_days,
        coalesce(jc.new_contacts, 0) as new_contacts,
        coalesce(jc.joined_contacts, 0) as joined_contacts,
        coalesce(cr.retention_eligible, 0) as retention_eligible,
        coalesce(cr.retained_members, 0) as retained_members,
        coalesce(mb.members, 0) as members,
        coalesce(tk.task_completions, 0) as task_completions,
        coalesce(wi.interactions, 0) as interactions,
        coalesce(vp.purchasing_members, 0) as purchasing_members,
        coalesce(rc.referees, 0) as referees,
        coalesce(rc.converted_referees, 0) as converted_referees,
        coalesce(ch.members_at_end, 0) as members_at_end,
        coalesce(ch.churned_members, 0) as churned_members
    from months
    left join join_conversion as jc on months.month = jc.contact_month
    left join community_retention as cr on months.month = cr.join_month
    left join members as mb on months.month = mb.month
    left join tasks as tk on months.month = tk.interaction_month
    left join weekly_interactions as wi on months.month = wi.interaction_month
    left join vas_penetration as vp on months.month = vp.interaction_month
    left join referral_conversion as rc on months.month = rc.referral_month
    left join community_churn as ch on months.month = ch.month
)

select
    month,
    cast(new_contacts as bigint) as new_contacts,
    cast(joined_contacts as bigint) as joined_contacts,
    cast(joined_contacts / {{ p360_float("nullif(new_contacts, 0)") }} as double) as join_conversion,
    cast(retention_eligible as bigint) as retention_eligible,
    cast(retained_members as bigint) as retained_members,
    cast(retained_members / {{ p360_float("nullif(retention_eligible, 0)") }} as double) as community_retention,
    cast(members as bigint) as members,
    cast(task_completions as bigint) as task_completions,
    cast(task_completions / {{ p360_float("nullif(members, 0)") }} as double) as tasks_per_member,
    cast(interactions as bigint) as interactions,
    cast(
        interactions / {{ p360_float("nullif(members, 0)") }}
        / {{ p360_float("(observed_days / " ~ p360_float('7.0') ~ ")") }} as double
    ) as weekly_interactions_per_member,
    cast(purchasing_members as bigint) as purchasing_members,
    cast(purchasing_members / {{ p360_float("nullif(members, 0)") }} as double) as vas_penetration,
    cast(referees as bigint) as referees,
    cast(converted_referees as bigint) as converted_referees,
    cast(converted_referees / {{ p360_float("nullif(referees, 0)") }} as double) as referral_conversion,
    cast(members_at_end as bigint) as members_at_end,
    cast(churned_members as bigint) as churned_members,
    cast(churned_members / {{ p360_float("nullif(members_at_end, 0)") }} as double) as community_churn_rate
from per_month
