-- Pseudonymous key map for BI: every patient_key retired by an identity merge -> the
-- patient_key the person lives on under now (merge chains already followed), with the date.
select
    retired.patient_key as retired_patient_key,
    surviving.patient_key as surviving_patient_key,
    s.merged_on
from {{ ref('person_survivors') }} as s
inner join {{ ref('person_keys') }} as retired on s.retired_person_id = retired.person_id
inner join {{ ref('person_keys') }} as surviving on s.surviving_person_id = surviving.person_id
