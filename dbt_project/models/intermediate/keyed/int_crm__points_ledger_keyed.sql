-- Community points-ledger events keyed to the person (patient_key via identity_links on
-- the contact id).
{{ config(materialized='view') }}

select
    links.person_id,
    links.patient_key,
    ledger.entry_id,
    ledger.event_type,
    ledger.points,
    ledger.occurred_at,
    ledger.occurred_date
from {{ ref('stg_crm__points_ledger') }} as ledger
inner join {{ ref('identity_links') }} as links
    on ledger.contact_id = links.source_record_id and links.source = 'crm'
