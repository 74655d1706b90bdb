-- Marketing-side facts per person: acquisition channel/campaign (earliest contact),
-- consent (PIPL: a separate opt-in; any withdrawal on the current record wins),
-- community membership, points, referrals made and latest NPS.
with contacts as (
    select * from {{ ref('int_crm__contacts_keyed') }}
    where is_latest_version
),

acquisition as (
    select
        patient_key,
        arg_min(source_channel, created_at) as acquisition_channel,
        arg_min(campaign_id, created_at) as acquisition_campaign_id,
        cast(min(created_at) as date) as crm_created_date,
        -- consent holds only if every current record of the person still consents
        bool_and(marketing_consent and consent_withdrawn_at is null) as marketing_consent
    from contacts
    group by patient_key
),

membership as (
    select
        patient_key,
        count(*) filter (where left_at is null) as active_group_count,
        count(*) as groups_ever_joined,
        min(joined_at) as first_joined_at
    from {{ ref('int_crm__group_memberships_keyed') }}
    group by patient_key
),

points as (
    select
        patient_key,
        sum(points) as points_balance,
        sum(greatest(points, 0)) as points_earned
    from {{ ref('int_crm__points_ledger_keyed') }}
    group by patient_key
),

referrals as (
    select
        referrer_patient_key as patient_key,
        count(distinct referee_contact_id) as referrals_made
    from {{ ref('int_crm__referrals_keyed') }}
    where referrer_patient_key is not null
    group by referrer_patient_key
),

nps as (
    select
        patient_key,
        arg_max(nps_score, answered_at) as latest_nps_score
    from {{ ref('int_crm__nps_responses_keyed') }}
    group by patient_key
)

select
    a.patient_key,
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
left join membership as m on a.patient_key = m.patient_key
left join points as p on a.patient_key = p.patient_key
left join referrals as r on a.patient_key = r.patient_key
left join nps as n on a.patient_key = n.patient_key
