-- HIS prescription lines keyed to the person (patient_key via identity_links on the MRN).
{{ config(materialized='view') }}

select
    links.person_id,
    links.patient_key,
    prescriptions.prescription_id,
    prescriptions.prescribed_date,
    prescriptions.drug_code,
    prescriptions.drug_name,
    prescriptions.quantity,
    prescriptions.days_supplied,
    prescriptions.amount
from {{ ref('stg_his__prescriptions') }} as prescriptions
inner join {{ ref('identity_links') }} as links
    on prescriptions.mrn = links.source_record_id and links.source = 'his'
