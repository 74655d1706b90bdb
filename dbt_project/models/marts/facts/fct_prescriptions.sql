-- One row per prescription line: the input of medication adherence (PDC from days_supplied).
-- prescription_id is a keyed pseudonym of the HIS prescription number (prefix: patient360.record_keys).
select
    p360_pseudonym('his_prescription:' || prescription_id) as prescription_id,
    patient_key,
    prescribed_date,
    drug_code,
    drug_name,
    cast(quantity as integer) as quantity,
    cast(days_supplied as integer) as days_supplied,
    cast(amount as decimal(18, 2)) as amount
from {{ ref('int_his__prescriptions_keyed') }}
