-- HIS lab results keyed to the person (patient_key via identity_links on the MRN).
{{ config(materialized='view') }}

select
    links.person_id,
    links.patient_key,
    labs.lab_result_id,
    labs.test_code,
    labs.result_value,
    labs.unit,
    labs.collected_at,
    labs.collected_date
from {{ ref('stg_his__lab_results') }} as labs
inner join {{ ref('identity_links') }} as links
    on labs.mrn = links.source_record_id and links.source = 'his'
