-- Every retired person_id -> the person it lives on in now (merge chains followed: when a
-- survivor is itself retired later, its earlier retirees move on to the new survivor).
{{ config(
    materialized='incremental', unique_key='retired_person_id', full_refresh=false,
    incremental_strategy=p360_registry_strategy()) }}
with todays_merges as (
    select
        retired_person_id,
        surviving_person_id,
        merged_on
    from {{ ref('identity_merge_log') }}
    where merged_on = {{ p360_run_date() }}
)

select
    retired_person_id,
    surviving_person_id,
    merged_on
from todays_merges
{% if is_incremental() %}
    union all
    select
        s.retired_person_id,
        m.surviving_person_id,
        s.merged_on
    from {{ this }} as s
    inner join todays_merges as m on s.surviving_person_id = m.retired_person_id
{% endif %}
