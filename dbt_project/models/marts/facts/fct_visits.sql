-- One row per HIS encounter, keyed to the person's pseudonym (no MRN, no doctor). visit_id is
-- a keyed pseudonym of the HIS encounter number (the HIS's own number would re-identify the
-- row for anyone with HIS access); the prefix is patient360.record_keys' (the gate re-derives it).
select
    p360_pseudonym('his_visit:' || visit_id) as visit_id,
    patient_key,
    visit_date,
    visit_type,
    specialty,
    department,
    cast(charge_amount as decimal(18, 2)) as charge
from {{ ref('int_his__visits_keyed') }}
