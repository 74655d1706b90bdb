-- CRM message events (sent, delivered, opened, clicked) keyed to the person (patient_key
-- via identity_links on the contact id).
{{ config(materialized='view') }}

select
    links.person_id,
    links.patient_key,
    messages.event_id,
    messages.campaign_id,
    messages.event_type,
    messages.occurred_at,
    messages.occurred_date
from {{ ref('stg_crm__message_events') }} as messages
inner join {{ ref('identity_links') }} as links
    on messages.contact_id = links.source_record_id and links.source = 'crm'
