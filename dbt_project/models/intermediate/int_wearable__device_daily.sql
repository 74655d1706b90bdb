-- Every staging reading summarised once: one row per device binding x day x metric, and for
-- readings no binding covers, one row per device x day x metric (binding_id null). Both
-- int_wearable__daily (the bound rows) and int_coverage__wearable_daily (every row) read
-- it, so the 100M-row de-duplication and the attribution join run once, not once per model.
--
-- Attribution: a reading belongs to the binding of its device active at its instant
-- (bound_at <= measured_at < unbound_at). A device has one active binding at a time:
-- binding it again ends its previous binding at the new bound_at, whether or not the export
-- closed it, so no reading is attributed twice. The day's abnormal flag: glucose outside
-- [glucose_abnormal_low_mmol, glucose_abnormal_high_mmol], BP at or above sbp/dbp targets.
--
-- Incremental, by whole days: a run rebuilds every day from incremental_lookback_days
-- before the latest stored day, plus every day that received readings landed since the
-- previous run (a vendor re-sending old readings, a late file), plus every day holding
-- readings of a device whose binding landed since the previous run (a late binding
-- re-attributes the device's earlier readings, however old). All are plain day filters,
-- which DuckDB applies below the staging dedupe, so a daily run reads a few days of
-- readings, not the year. The days to rebuild are looked up when the model runs
-- (wearable_rebuild_days).
{{ config(
    materialized='incremental',
    unique_key='measured_date',
    incremental_strategy=p360_incremental_strategy(),
    partition_by=p360_partition_by('measured_date'),
    on_schema_change='fail'
) }}

with readings as (
    select * from {{ ref('stg_wearable__readings') }}
    {% if is_incremental() %}
        where {{ wearable_rebuild_days(
            this, source('raw_wearable', 'readings'), 'measured_date', source('raw_wearable', 'device_bindings')
        ) }}
    {% endif %}
),

-- each binding's active window: until it is closed or the device is bound again
bindings as (
    select
        binding_id,
        device_serial,
        bound_at,
        case
            when next_bound_at is not null and (unbound_at is null or next_bound_at < unbound_at)
                then next_bound_at
            else unbound_at
        end as active_until
    from (
        select
            binding_id,
            device_serial,
            bound_at,
            unbound_at,
            lead(bound_at) over (partition by device_serial order by bound_at, binding_id) as next_bound_at
        from {{ ref('stg_wearable__device_bindings') }}
    ) as versions
),

attributed as (
    select
        b.binding_id,
        -- the device of an unbound reading; a bound one is known by its binding
        case when b.binding_id is null then r.device_serial end as unbound_device_serial,
        r.vendor,
        r.measured_date,
        r.metric,
        r.reading_value,
        r.censored,
        r._loaded_at,
        case r.metric
            when 'glucose'
                then
                    r.reading_value > {{ var('glucose_abnormal_high_mmol') }}
                    or r.reading_value < {{ var('glucose_abnormal_low_mmol') }}
            when 'systolic' then r.reading_value >= {{ var('sbp_target_mmhg') }}
            when 'diastolic' then r.reading_value >= {{ var('dbp_target_mmhg') }}
            else false
        end as is_abnormal_reading
    from readings as r
    left join bindings as b
        on
            r.device_serial = b.device_serial
            and r.measured_at >= b.bound_at
            and (b.active_until is null or r.measured_at < b.active_until)
)

select
    binding_id,
    unbound_device_serial,
    vendor,
    measured_date,
    metric,
    count(*) as reading_count,
    -- exact decimal sum: summation order (incremental vs full refresh) must not change the result
    -- censored readings (Low / High) are no measurement: out of the sum and the mean
    sum(cast(reading_value as decimal(18, 3))) filter (where censored is null) as value_sum,
    round(
        cast(sum(cast(reading_value as decimal(18, 3))) filter (where censored is null) as double)
        / {{ p360_float("nullif(count(*) filter (where censored is null), 0)") }},
        3
    ) as avg_value,
    min(reading_value) as min_value,
    max(reading_value) as max_value,
    bool_or(is_abnormal_reading) as is_abnormal,
    max(_loaded_at) as last_loaded_at
from attributed
group by binding_id, unbound_device_serial, vendor, measured_date, metric
