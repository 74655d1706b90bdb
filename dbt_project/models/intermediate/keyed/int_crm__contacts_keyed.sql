-- CRM contact record versions keyed to the person (patient_key via identity_links on the
-- contact id), with acquisition and consent attributes; no contact id, name, mobile or WeChat ids.
{{ config(materialized='view') }}

select
    links.person_id,
    links.patient_key,
    contacts.source_channel,
    contacts.campaign_id,
    contacts.created_at,
    contacts.marketing_consent,
    contacts.consent_at,
    contacts.consent_withdrawn_at,
    contacts.updated_at,
    contacts.is_latest_version
from {{ ref('stg_crm__contacts') }} as contacts
inner join {{ ref('identity_links') }} as links
    on contacts.contact_id = links.source_record_id and links.source = 'crm'
