-- Splits: records of a person that now resolve to another person (a link withdrawn because an
-- identifier was corrected at source). One row per (person_id, person it lost records to).
{{ config(materialized='incremental', full_refresh=false) }}
select distinct
    previous_person_id as person_id,
    person_id as split_person_id,
    {{ p360_run_date() }} as split_on
from {{ ref('identity_assignment') }}
where previous_person_id is not null and person_id <> previous_person_kept_by
