-- Merges, one row per retired person_id: the person it was merged into and the run's date.
-- Append-only and never reset by a full refresh.
{{ config(materialized='incremental', full_refresh=false) }}
select distinct
    a.previous_person_id as retired_person_id,
    a.previous_person_kept_by as surviving_person_id,
    {{ p360_run_date() }} as merged_on
from {{ ref('identity_assignment') }} as a
where
    a.previous_person_id is not null
    and a.previous_person_id <> a.previous_person_kept_by
    and not exists (
        select 1 from {{ ref('identity_assignment') }} as s
        where s.person_id = a.previous_person_id
    )
