-- Data coverage of home-device readings: every staging reading counted once per vendor x
-- device type x day, attributed to a person or not. A reading is attributed when the
-- binding active at its instant (int_wearable__device_daily) is linked to a person (the
-- same rule as int_wearable__daily + int_wearable__daily_keyed); otherwise it is
-- unattributed: a device never bound, a reading outside every binding of its device, a
-- binding no person was resolved for. device_type is the type its bindings declare
-- ('unknown' for a device never bound); no device serial is kept.
--
-- Incremental by whole days with the same day filter as int_wearable__device_daily
-- (wearable_rebuild_days): late files and late bindings rebuild the days they touch, so the
-- counts of an incremental run equal a full refresh.
{{ config(
    materialized='incremental',
    unique_key='measured_date',
    incremental_strategy=p360_incremental_strategy(),
    partition_by=p360_partition_by('measured_date'),
    on_schema_change='fail'
) }}

with daily as (
    select
        binding_id,
        unbound_device_serial,
        vendor,
        measured_date,
        reading_count,
        last_loaded_at
    from {{ ref('int_wearable__device_daily') }}
    {% if is_incremental() %}
        where {{ wearable_rebuild_days(
            this, source('raw_wearable', 'readings'), 'measured_date', source('raw_wearable', 'device_bindings')
        ) }}
    {% endif %}
),

bindings as (
    select
        bindings.binding_id,
        bindings.device_serial,
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
    from {{ ref('stg_wearable__device_bindings') }}
    group by device_serial
),

flagged as (
    select
        daily.vendor,
        coalesce(device_types.device_type, 'unknown') as device_type,
        daily.measured_date,
        coalesce(bindings.has_person, false) as is_attributed,
        daily.reading_count,
        daily.last_loaded_at
    from daily
    left join bindings on daily.binding_id = bindings.binding_id
    left join device_types
        on coalesce(daily.unbound_device_serial, bindings.device_serial) = device_types.device_serial
)

select
    vendor,
    device_type,
    measured_date,
    is_attributed,
    cast(sum(reading_count) as bigint) as reading_count,
    max(last_loaded_at) as last_loaded_at
from flagged
group by vendor, device_type, measured_date, is_attributed
