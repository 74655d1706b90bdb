-- Special groups (business_rules.md "Population mix"): chronic (a chronic programme diagnosis),
-- elderly (age >= elderly_min_age), children (age <= child_max_age, decisions by parents).
-- Both are read from the published, k-anonymised age band (int_patient__kanon_quasi), as in
-- patient_360: null when the age is unknown or the band is suppressed or straddles the threshold.
{{ config(
    materialized='incremental',
    unique_key='as_of_date',
    incremental_strategy=p360_incremental_strategy(),
    partition_by=p360_partition_by('as_of_date'),
    on_schema_change='append_new_columns'
) }}

-- joined on the integer person_id; patient_key comes with the person row (attached once upstream)
select
    d.patient_key,
    a.as_of_date,
    coalesce(c.is_chronic, false) as is_chronic,
    {{ band_at_least('d.age_band', var('elderly_min_age')) }} as is_elderly,
    {{ band_at_most('d.age_band', var('child_max_age')) }} as is_child
from {{ ref('int_patient__kanon_quasi') }} as d
cross join {{ ref('int_run__as_of') }} as a
left join {{ ref('int_patient__clinical') }} as c on d.person_id = c.person_id
