-- HIS encounters keyed to the person (patient_key via identity_links on the MRN); no MRN,
-- no doctor.
{{ config(materialized='view') }}

select
    links.person_id,
    links.patient_key,
    visits.visit_id,
    visits.visit_date,
    visits.visit_type,
    visits.specialty,
    visits.department,
    visits.charge_amount
from {{ ref('stg_his__visits') }} as visits
inner join {{ ref('identity_links') }} as links
    on visits.mrn = links.source_record_id and links.source = 'his'
