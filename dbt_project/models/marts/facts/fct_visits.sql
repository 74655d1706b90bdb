-- One row per HIS encounter, keyed to the person's pseudonym (no MRN, no doctor).
select
    visit_id,
    patient_key,
    visit_date,
    visit_type,
    specialty,
    department,
    cast(charge_amount as decimal(18, 2)) as charge
from {{ ref('int_his__visits_keyed') }}
