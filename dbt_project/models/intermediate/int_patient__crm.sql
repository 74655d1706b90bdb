-- Marketing-side facts per person: acquisition channel/campaign (earliest contact),
-- consent (PIPL: a separate opt-in; any withdrawal on the current record wins),
-- community membership, points, referrals made and latest NPS.
with links as (
    select * from {{ ref('identity_links') }} where source = 'crm'
),

contacts as (
    select l.patient_key, c.*
    from {{ ref('stg_crm__contacts') }} as c
    inner join links as l on l.source_record_id = c.contact_id
    where c.is_latest_version
),

acquisition as (
    select patient_key,
        arg_min(source_channel, created_at) as acquisition_channel,
        arg_min(campaign_id, created_at) as acquisition_campaign_id,
        cast(min(created_at) as date) as crm_created_date,
        -- consent holds only if every current record of the person still consents
        bool_and(marketing_consent and consent_withdrawn_at is null) as marketing_consent
    from contacts
    group by patient_key
),

membership as (
    select l.patient_key,
        count(*) filter (where m.left_at is null) as active_group_count,
        count(*) as groups_ever_joined,
        min(m.joined_at) as first_joined_at
    from {{ ref('stg_crm__group_memberships') }} as m
    inner join links as l on l.source_record_id = m.contact_id
    group by l.patient_key
),

points as (
    select l.patient_key, sum(p.points) as points_balance, sum(greatest(p.points, 0)) as points_earned
    from {{ ref('stg_crm__points_ledger') }} as p
    inner join links as l on l.source_record_id = p.contact_id
    group by l.patient_key
),

referrals as (
    select l.patient_key, count(distinct r.referee_contact_id) as referrals_made
    from {{ ref('stg_crm__referrals') }} as r
    inner join links as l on l.source_record_id = r.referrer_contact_id
    group by l.patient_key
),

nps as (
    select l.patient_key, arg_max(n.nps_score, n.answered_at) as latest_nps_score
    from {{ ref('stg_crm__nps_responses') }} as n
    inner join links as l on l.source_record_id = n.contact_id
    group by l.patient_key
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
left join membership as m on m.patient_key = a.patient_key
left join points as p on p.patient_key = a.patient_key
left join referrals as r on r.patient_key = a.patient_key
left join nps as n on n.patient_key = a.patient_key
