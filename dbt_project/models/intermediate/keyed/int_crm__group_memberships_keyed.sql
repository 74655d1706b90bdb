-- Community group memberships keyed to the person (patient_key via identity_links on the
-- contact id).
{{ config(materialized='view') }}

select
    links.person_id,
    links.patient_key,
    memberships.membership_id,
    memberships.group_id,
    memberships.joined_at,
    memberships.left_at,
    memberships.leave_reason
from {{ ref('stg_crm__group_memberships') }} as memberships
inner join {{ ref('identity_links') }} as links
    on memberships.contact_id = links.source_record_id and links.source = 'crm'
