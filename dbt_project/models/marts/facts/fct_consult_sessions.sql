-- One row per online consult session, keyed to the person's pseudonym; no chief
-- complaint (free text), no platform user id. within_target: first reply within
-- consult_response_target_minutes (service standard: 30 minutes). session_id is a keyed
-- pseudonym of the platform's session number (prefix: patient360.record_keys).
-- Incremental (consults are high volume): a run re-processes
--   * sessions requested in the last incremental_lookback_days days before the latest one stored,
--   * sessions landed after the latest landing stored (late arrivals of any age),
--   * sessions whose person key changed since stored (identity merges),
--   * sessions whose keyed id is not stored (new, or every session after a key rotation),
-- and the post-hook deletes stored rows whose keyed id is no longer issued (a rotated key),
-- so an incremental run equals a full refresh (proved by tests/test_dbt_incremental.py).
{{ config(
    materialized=p360_row_incremental(),
    unique_key='session_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    post_hook="{{ p360_delete_hook('delete from ' ~ this ~ \" where session_id not in (select p360_pseudonym('consult_session:' || session_id) from \" ~ ref('int_consult__sessions_keyed') ~ ')') }}"
) }}

with keyed as (
    select {{ p360_star_replace({'session_id': "p360_pseudonym('consult_session:' || session_id)"}) }}
    from {{ ref('int_consult__sessions_keyed') }}
),

changed as (
    select keyed.*
    from keyed
    {% if is_incremental() %}
        where keyed.requested_date >= (
            select coalesce(max(requested_date), date '1900-01-01') - interval {{ var('incremental_lookback_days') }} day
            from {{ this }}
        )
        or keyed._loaded_at > (select coalesce(max(landed_at), timestamp '1900-01-01') from {{ this }})
        or keyed.session_id in (
            select stored.session_id
            from {{ this }} as stored
            inner join keyed as k on k.session_id = stored.session_id
            where stored.patient_key <> k.patient_key
        )
        or keyed.session_id not in (select stored.session_id from {{ this }} as stored)
    {% endif %}
)

select
    session_id,
    patient_key,
    requested_date,
    specialty,
    consult_type,
    urgency,
    session_status as status,
    cast(response_minutes as double) as response_minutes,
    coalesce(response_minutes <= {{ var('consult_response_target_minutes') }}, false) as within_target,
    cast({{ p360_date_diff('second', "requested_at", "closed_at") }} / {{ p360_float("60.0") }} as double) as duration_minutes,
    cast(fee as decimal(18, 2)) as fee,
    cast(rating as integer) as rating,
    prescription_issued,
    offline_referral,
    _loaded_at as landed_at
from changed
