-- One row per HIS encounter, keyed to the person's pseudonym (no MRN, no doctor).
select
    v.visit_id,
    l.patient_key,
    v.visit_date,
    v.visit_type,
    v.specialty,
    v.department,
    cast(v.charge_amount as decimal(18, 2)) as charge
from {{ ref('stg_his__visits') }} as v
inner join {{ ref('identity_links') }} as l on l.source = 'his' and l.source_record_id = v.mrn
