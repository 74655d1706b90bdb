-- HIS payments keyed to the person (patient_key via identity_links on the MRN).
{{ config(materialized='view') }}

select
    links.person_id,
    links.patient_key,
    payments.payment_id,
    payments.paid_date,
    payments.amount,
    payments.payment_method
from {{ ref('stg_his__payments') }} as payments
inner join {{ ref('identity_links') }} as links
    on payments.mrn = links.source_record_id and links.source = 'his'
