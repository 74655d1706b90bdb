-- Marketing-side facts per person as of the run date (point-in-time: only contacts, record
-- versions, memberships, points, referrals and NPS answers dated on or before it): first CRM
-- contact's channel/campaign (the person's first touch; acquisition proper is
-- int_kpi__person_acquisition), consent (PIPL: a separate opt-in; any withdrawal on the record
-- version in force wins), community membership, points, referrals made and latest NPS.
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

-- the version of each contact in force at the as-of date (a contact = person x created_at)
contacts as (
    select k.*
    from {{ ref('int_crm__contacts_keyed') }} as k
    cross join as_of
    where cast(k.updated_at as date) <= as_of.as_of_date and cast(k.created_at as date) <= as_of.as_of_date
    qualify row_number() over (partition by k.person_id, k.created_at order by k.updated_at desc) = 1
),

acquisition as (
    select
        person_id,
        {{ p360_arg_min("source_channel", "created_at") }} as acquisition_channel,
        {{ p360_arg_min("campaign_id", "created_at") }} as acquisition_campaign_id,
        cast(min(created_at) as date) as crm_created_date,
        -- consent holds only if every current record of the person still consents
        bool_and(marketing_consent and consent_withdrawn_at is null) as marketing_consent
    from contacts
    group by person_id
),

memberships_as_of as (
    select
        m.person_id,
        m.joined_at,
        case when cast(m.left_at as date) <= as_of.as_of_date then m.left_at end as left_at
    from {{ ref('int_crm__group_memberships_keyed') }} as m
    cross join as_of
    where cast(m.joined_at as date) <= as_of.as_of_date
),

membership as (
    select
        person_id,
        count(*) filter (where left_at is null) as active_group_count,
        count(*) as groups_ever_joined,
        min(joined_at) as first_joined_at
    from memberships_as_of
    group by person_id
),

points as (
    select
        person_id,
        sum(points) as points_balance,
        sum(greatest(points, 0)) as points_earned
    from {{ ref('int_crm__points_ledger_keyed') }}
    where occurred_date <= (select a.as_of_date from as_of as a)
    group by person_id
),

referrals as (
    select
        referrer_person_id as person_id,
        count(distinct referee_contact_id) as referrals_made
    from {{ ref('int_crm__referrals_keyed') }}
    where referrer_person_id is not null and cast(referred_at as date) <= (select a.as_of_date from as_of as a)
    group by referrer_person_id
),

nps as (
    select
        person_id,
        {{ p360_arg_max("nps_score", "answered_at") }} as latest_nps_score
    from {{ ref('int_crm__nps_responses_keyed') }}
    where answered_date <= (select a.as_of_date from as_of as a)
    group by person_id
)

-- joined on the integer person_id above; the patient_key is attached here, once per person
select
    a.person_id,
    k.patient_key,
    a.acquisition_channel,
    a.acquisition_campaign_id,
    a.crm_created_date,
    a.marketing_consent,
    coalesce(m.active_group_count, 0) > 0 as community_member,
    coalesce(m.groups_ever_joined, 0) as community_groups_joined,
    coalesce(p.points_balance, 0) as points_balance,
    coalesce(p.points_earned, 0) as points_earned,
    coalesce(r.referrals_made, 0) as referrals_made,
    n.latest_nps_score
from acquisition as a
left join membership as m on a.person_id = m.person_id
left join points as p on a.person_id = p.person_id
left join referrals as r on a.person_id = r.person_id
left join nps as n on a.person_id = n.person_id
inner join {{ ref('person_keys') }} as k on a.person_id = k.person_id
