-- The persistent person registry: every source record -> its stable person_id. Only the
-- records resolved by this run are rewritten; a full refresh never resets it (person_ids
-- are assigned once, for the life of the person).
{{ config(
    materialized='incremental',
    unique_key=['source', 'source_record_id'],
    full_refresh=false,
    incremental_strategy=p360_registry_strategy(),
) }}
select
    source,
    source_record_id,
    person_id,
    block_key,
    fingerprint,
    {{ p360_run_date() }} as resolved_on
from {{ ref('identity_assignment') }}
