-- Readings attributed to the device binding active when they were measured (a device
-- re-bound to another user starts a new binding). Incremental: the last
-- `incremental_lookback_days` days are re-processed, plus any reading landed since the
-- previous run whatever its date (a vendor re-sending old readings); binding_id (not
-- patient_key) is stored, so later identity merges never leave stale keys here.
{{ config(
    materialized='incremental',
    unique_key=['device_serial', 'metric', 'measured_at'],
    incremental_strategy='delete+insert',
    on_schema_change='fail'
) }}

with readings as (
    select * from {{ ref('stg_wearable__readings') }}
    {% if is_incremental() %}
        where measured_date >= (
            select coalesce(max(measured_date), date '1900-01-01') - interval {{ var('incremental_lookback_days') }} day
            from {{ this }}
        )
        or _loaded_at > (select coalesce(max(_loaded_at), timestamp '1900-01-01') from {{ this }})
    {% endif %}
),

bindings as (
    select * from {{ ref('stg_wearable__device_bindings') }}
)

select
    b.binding_id,
    r.device_serial,
    r.vendor,
    r.metric,
    r.reading_value,
    r.reading_unit,
    r.measured_at,
    r.measured_date,
    r._loaded_at
from readings as r
inner join bindings as b
    on r.device_serial = b.device_serial
    and r.measured_at >= b.bound_at
    and (b.unbound_at is null or r.measured_at < b.unbound_at)
