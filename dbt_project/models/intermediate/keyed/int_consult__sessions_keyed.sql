-- Online consult sessions keyed to the person (patient_key via identity_links on the
-- platform user id); no platform user id, mobile, real name, doctor or chief complaint.
{{ config(materialized='view') }}

select
    links.person_id,
    links.patient_key,
    sessions.session_id,
    sessions.specialty,
    sessions.consult_type,
    sessions.urgency,
    sessions.requested_at,
    sessions.requested_date,
    sessions.closed_at,
    sessions.response_minutes,
    sessions.session_status,
    sessions.fee,
    sessions.rating,
    sessions.prescription_issued,
    sessions.offline_referral,
    sessions._loaded_at
from {{ ref('stg_consult__sessions') }} as sessions
inner join {{ ref('identity_links') }} as links
    on sessions.platform_user_id = links.source_record_id and links.source = 'consult'
