-- One row per prescription line: the input of medication adherence (PDC from days_supplied).
select
    p.prescription_id,
    l.patient_key,
    p.prescribed_date,
    p.drug_code,
    p.drug_name,
    cast(p.quantity as integer) as quantity,
    cast(p.days_supplied as integer) as days_supplied,
    cast(p.amount as decimal(18, 2)) as amount
from {{ ref('stg_his__prescriptions') }} as p
inner join {{ ref('identity_links') }} as l on l.source = 'his' and l.source_record_id = p.mrn
