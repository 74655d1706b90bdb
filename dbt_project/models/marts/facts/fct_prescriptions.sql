-- One row per prescription line: the input of medication adherence (PDC from days_supplied).
select
    prescription_id,
    patient_key,
    prescribed_date,
    drug_code,
    drug_name,
    cast(quantity as integer) as quantity,
    cast(days_supplied as integer) as days_supplied,
    cast(amount as decimal(18, 2)) as amount
from {{ ref('int_his__prescriptions_keyed') }}
