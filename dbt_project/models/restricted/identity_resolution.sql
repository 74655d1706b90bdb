-- The records resolved by this run (new or changed records and the blocks they touch; all
-- records on the first run) with their cluster. The resolution itself runs in the pre-hook,
-- inside the engine (macros/identity/resolve_identities.sql; docs/identity.md).
-- depends_on: {{ ref('identity_observations') }}
{{ config(
    materialized='table',
    pre_hook="{{ p360_resolve_identities(this, ref('identity_observations')) }}",
) }}
select
    source,
    source_record_id,
    fingerprint,
    cluster_node,
    block_key
from {{ p360_work_relation(this, 'resolved') }}
