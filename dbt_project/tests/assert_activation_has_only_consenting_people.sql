-- PIPL: marketing may only contact people whose explicit consent holds today.
select a.patient_key
from {{ ref('seg_marketing_activation') }} as a
inner join {{ ref('patient_360') }} as p on p.patient_key = a.patient_key
where not p.marketing_consent
