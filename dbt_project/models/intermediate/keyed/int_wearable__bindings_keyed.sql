-- Wearable device bindings keyed to the person (patient_key via identity_links on the
-- binding id); no device serial, binding id, platform user id or mobile.
{{ config(materialized='view') }}

select
    links.person_id,
    links.patient_key,
    bindings.vendor,
    bindings.device_type,
    bindings.bound_at,
    bindings.unbound_at
from {{ ref('stg_wearable__device_bindings') }} as bindings
inner join {{ ref('identity_links') }} as links
    on bindings.binding_id = links.source_record_id and links.source = 'wearable'
