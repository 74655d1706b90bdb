-- HIS patient record versions keyed to the person (patient_key via identity_links on the
-- MRN), with the attributes demographics needs; names, ID numbers, mobiles and addresses
-- stay in staging. The MRN is kept only to order versions deterministically.
{{ config(materialized='view') }}

select
    links.person_id,
    links.patient_key,
    patients.mrn,
    patients.gender,
    patients.birth_date,
    patients.city,
    patients.province,
    patients.registered_at,
    patients.updated_at,
    patients.is_latest_version
from {{ ref('stg_his__patients') }} as patients
inner join {{ ref('identity_links') }} as links
    on patients.mrn = links.source_record_id and links.source = 'his'
