-- Every person in patient_360 has exactly one lifecycle row for the current as-of date.
select p.patient_key, count(l.patient_key) as rows_for_as_of
from {{ ref('patient_360') }} as p
left join {{ ref('seg_lifecycle') }} as l on l.patient_key = p.patient_key and l.as_of_date = p.as_of_date
group by p.patient_key
having count(l.patient_key) <> 1
