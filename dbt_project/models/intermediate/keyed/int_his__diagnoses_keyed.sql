-- HIS diagnoses keyed to the person (patient_key via identity_links on the MRN).
{{ config(materialized='view') }}

select
    links.person_id,
    links.patient_key,
    diagnoses.diagnosis_id,
    diagnoses.icd10_code,
    diagnoses.icd10_category,
    diagnoses.is_primary,
    diagnoses.diagnosed_at
from {{ ref('stg_his__diagnoses') }} as diagnoses
inner join {{ ref('identity_links') }} as links
    on diagnoses.mrn = links.source_record_id and links.source = 'his'
