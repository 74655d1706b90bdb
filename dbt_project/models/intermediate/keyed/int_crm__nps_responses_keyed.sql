-- NPS answers keyed to the person (patient_key via identity_links on the contact id); no
-- free-text comment.
{{ config(materialized='view') }}

select
    links.person_id,
    links.patient_key,
    responses.response_id,
    responses.nps_score,
    responses.answered_at,
    responses.answered_date
from {{ ref('stg_crm__nps_responses') }} as responses
inner join {{ ref('identity_links') }} as links
    on responses.contact_id = links.source_record_id and links.source = 'crm'
