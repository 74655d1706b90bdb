-- Data coverage of home-device readings: every staging reading counted once per vendor x
-- device type x day, attributed to a person or not. A reading is attributed when a device
-- binding covers its instant (bound_at <= measured_at < unbound_at) and that binding is
-- linked to a person (the same rule as int_wearable__daily + int_wearable__daily_keyed);
-- otherwise it is unattributed: a device never bound, a reading outside every binding of
-- its device, a binding no person was resolved for. device_type is the type its bindings
-- declare ('unknown' for a device never bound); no device serial is kept.
--
-- Incremental by whole days with the same day filter as int_wearable__daily
-- (wearable_rebuild_days): late files and late bindings rebuild the days they touch, so the
-- counts of an incremental run equal a full refresh.
{{ config(
    materialized='incremental',
    unique_key='measured_date',
    incremental_strategy=p360_incremental_strategy(),
    partition_by=p360_partition_by('measured_date'),
    on_schema_change='fail'
) }}

with readings as (
    select
        device_serial,
        vendor,
        measured_at,
        measured_date,
        _loaded_at
    from {{ ref('stg_wearable__readings') }}
    {% if is_incremental() %}
        where {{ wearable_rebuild_days(
            this, source('raw_wearable', 'readings'), 'measured_date', source('raw_wearable', 'device_bindings')
        ) }}
    {% endif %}
),

bindings as (
    select
        bindings.device_serial,
        bindings.device_type,
        bindings.bound_at,
        bindings.unbound_at,
        links.source_record_id is not null as has_person
    from {{ ref('stg_wearable__device_bindings') }} as bindings
    left join {{ ref('identity_links') }} as links
        on bindings.binding_id = links.source_record_id and links.source = 'wearable'
),

-- one row per serial (a serial is one physical device), so the join below never fans out
device_types as (
    select
        device_serial,
        min(device_type) as device_type
    from bindings
    group by device_serial
),

flagged as (
    select
        readings.vendor,
        coalesce(device_types.device_type, 'unknown') as device_type,
        readings.measured_date,
        readings._loaded_at,
        exists(
            select 1
            from bindings
            where
                bindings.device_serial = readings.device_serial
                and bindings.has_person
                and readings.measured_at >= bindings.bound_at
                and (bindings.unbound_at is null or readings.measured_at < bindings.unbound_at)
        ) as is_attributed
    from readings
    left join device_types on readings.device_serial = device_types.device_serial
)

select
    vendor,
    device_type,
    measured_date,
    is_attributed,
    count(*) as reading_count,
    max(_loaded_at) as last_loaded_at
from flagged
group by vendor, device_type, measured_date, is_attributed
