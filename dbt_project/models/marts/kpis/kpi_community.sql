-- Community KPIs by calendar month (days after the as-of date not counted). People, not
-- CRM records: contacts are keyed to patient_key. Community interactions = points-ledger
-- events other than redemptions (check-in, health talk, task, referral, purchase).
--   join_conversion       of the people first contacted in the month, the share who ever joined a group;
--   community_retention   of the people who first joined in the month at least community_retention_days (7)
--                         before the as-of date, the share with an interaction on or after join day + 7;
--   members               people in a group at some point of the month;
--   tasks_per_member      task_completed events / members;
--   weekly_interactions_per_member  interactions / members / (observed days / 7);
--   vas_penetration       members with a purchase (value-added service) in the month / members;
--   referral_conversion   people referred in the month who became patients (a service by the as-of date) / referred;
--   community_churn_rate  members at month end with no interaction in the last community_churn_days / members at month end.
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

links as (
    select source_record_id as contact_id, patient_key from {{ ref('identity_links') }} where source = 'crm'
),

contacts as (
    select l.patient_key, cast(min(c.created_at) as date) as first_contact_date
    from {{ ref('stg_crm__contacts') }} as c
    inner join links as l on l.contact_id = c.contact_id
    group by l.patient_key
),

memberships as (
    select l.patient_key, cast(m.joined_at as date) as joined_date, cast(m.left_at as date) as left_date
    from {{ ref('stg_crm__group_memberships') }} as m
    inner join links as l on l.contact_id = m.contact_id
    cross join as_of
    where cast(m.joined_at as date) <= as_of.as_of_date
),

first_joins as (
    select patient_key, min(joined_date) as first_joined_date from memberships group by patient_key
),

interactions as (
    select l.patient_key, p.occurred_date, p.event_type
    from {{ ref('stg_crm__points_ledger') }} as p
    inner join links as l on l.contact_id = p.contact_id
    cross join as_of
    where p.occurred_date <= as_of.as_of_date and p.event_type <> 'redeem'
),

referees as (
    select l.patient_key, cast(min(r.referred_at) as date) as referred_date
    from {{ ref('stg_crm__referrals') }} as r
    inner join links as l on l.contact_id = r.referee_contact_id
    group by l.patient_key
),

services as (
    select patient_key, first_service_date from {{ ref('int_patient__service_summary') }}
),

months as (
    select cast(m.month as date) as month,
        least(cast(m.month + interval 1 month - interval 1 day as date), as_of.as_of_date) as month_end
    from (select min(first_contact_date) as first_day from contacts) as bounds
    cross join as_of
    cross join unnest(generate_series(
        cast(date_trunc('month', bounds.first_day) as timestamp),
        cast(date_trunc('month', as_of.as_of_date) as timestamp),
        interval 1 month
    )) as m (month)
    where bounds.first_day is not null
),

member_months as (
    select distinct months.month, m.patient_key,
        max(case when m.left_date is null or m.left_date > months.month_end then 1 else 0 end)
            over (partition by months.month, m.patient_key) = 1 as member_at_end
    from months
    inner join memberships as m
        on m.joined_date <= months.month_end and (m.left_date is null or m.left_date >= months.month)
),

per_month as (
    select
        months.month,
        months.month_end,
        date_diff('day', months.month, months.month_end) + 1 as observed_days,
        (select count(*) from contacts as c where date_trunc('month', c.first_contact_date) = months.month) as new_contacts,
        (select count(*) from contacts as c inner join first_joins as fj on fj.patient_key = c.patient_key
            where date_trunc('month', c.first_contact_date) = months.month) as joined_contacts,
        (select count(*) from first_joins as fj
            where date_trunc('month', fj.first_joined_date) = months.month
            and fj.first_joined_date + {{ var('community_retention_days') }} <= as_of.as_of_date) as retention_eligible,
        (select count(*) from first_joins as fj
            where date_trunc('month', fj.first_joined_date) = months.month
            and fj.first_joined_date + {{ var('community_retention_days') }} <= as_of.as_of_date
            and exists (select 1 from interactions as i where i.patient_key = fj.patient_key
                and i.occurred_date >= fj.first_joined_date + {{ var('community_retention_days') }})) as retained_members,
        (select count(*) from member_months as mm where mm.month = months.month) as members,
        (select count(*) from interactions as i where date_trunc('month', i.occurred_date) = months.month
            and i.event_type = 'task_completed') as task_completions,
        (select count(*) from interactions as i where date_trunc('month', i.occurred_date) = months.month) as interactions,
        (select count(distinct i.patient_key) from interactions as i
            inner join member_months as mm on mm.patient_key = i.patient_key and mm.month = months.month
            where date_trunc('month', i.occurred_date) = months.month and i.event_type = 'purchase') as purchasing_members,
        (select count(*) from referees as r where date_trunc('month', r.referred_date) = months.month) as referees,
        (select count(*) from referees as r inner join services as s on s.patient_key = r.patient_key
            where date_trunc('month', r.referred_date) = months.month and s.first_service_date is not null) as converted_referees,
        (select count(*) from member_months as mm where mm.month = months.month and mm.member_at_end) as members_at_end,
        (select count(*) from member_months as mm where mm.month = months.month and mm.member_at_end
            and not exists (select 1 from interactions as i where i.patient_key = mm.patient_key
                and i.occurred_date > months.month_end - {{ var('community_churn_days') }}
                and i.occurred_date <= months.month_end)) as churned_members
    from months
    cross join as_of
)

select
    month,
    cast(new_contacts as bigint) as new_contacts,
    cast(joined_contacts as bigint) as joined_contacts,
    cast(joined_contacts / nullif(new_contacts, 0) as double) as join_conversion,
    cast(retention_eligible as bigint) as retention_eligible,
    cast(retained_members as bigint) as retained_members,
    cast(retained_members / nullif(retention_eligible, 0) as double) as community_retention,
    cast(members as bigint) as members,
    cast(task_completions as bigint) as task_completions,
    cast(task_completions / nullif(members, 0) as double) as tasks_per_member,
    cast(interactions as bigint) as interactions,
    cast(interactions / nullif(members, 0) / (observed_days / 7.0) as double) as weekly_interactions_per_member,
    cast(purchasing_members as bigint) as purchasing_members,
    cast(purchasing_members / nullif(members, 0) as double) as vas_penetration,
    cast(referees as bigint) as referees,
    cast(converted_referees as bigint) as converted_referees,
    cast(converted_referees / nullif(referees, 0) as double) as referral_conversion,
    cast(members_at_end as bigint) as members_at_end,
    cast(churned_members as bigint) as churned_members,
    cast(churned_members / nullif(members_at_end, 0) as double) as community_churn_rate
from per_month
