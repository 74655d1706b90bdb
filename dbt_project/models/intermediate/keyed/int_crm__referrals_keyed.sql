-- Referrals with both people keyed (identity_links on the referrer's and the referee's
-- contact id). Either key is null when that contact is not linked, so a consumer keeps
-- exactly the referrals its side of the link resolves. The referee's contact id stays:
-- referrals made are counted per referred contact.
{{ config(materialized='view') }}

select
    referrals.referral_id,
    referrers.person_id as referrer_person_id,
    referrers.patient_key as referrer_patient_key,
    referees.person_id as referee_person_id,
    referees.patient_key as referee_patient_key,
    referrals.referee_contact_id,
    referrals.referred_at
from {{ ref('stg_crm__referrals') }} as referrals
left join {{ ref('identity_links') }} as referrers
    on referrals.referrer_contact_id = referrers.source_record_id and referrers.source = 'crm'
left join {{ ref('identity_links') }} as referees
    on referrals.referee_contact_id = referees.source_record_id and referees.source = 'crm'
