-- One row per binding x day x metric with the day's summary and abnormal flag
-- (glucose outside [glucose_abnormal_low_mmol, glucose_abnormal_high_mmol], BP at or above
-- sbp/dbp targets). Each reading is attributed to the device binding active when it was
-- measured (a device re-bound to another user starts a new binding); binding_id, not
-- patient_key, is stored, so later identity merges never leave stale keys here.
--
-- Incremental, by whole days: a run rebuilds every day from incremental_lookback_days
-- before the latest stored day, plus every day that received readings landed since the
-- previous run (a vendor re-sending old readings, a late file), plus every day holding
-- readings of a device whose binding landed since the previous run (a late binding
-- re-attributes the device's earlier readings, however old). All are plain day filters,
-- which DuckDB applies below the staging dedupe, so a daily run reads a few days of
-- readings, not the year. The days to rebuild are looked up when the model runs
-- (wearable_rebuild_days). Readings no binding covers are not stored here: they are
-- counted in int_coverage__wearable_daily (kpi_data_coverage).
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

bindings as (
    select * from {{ ref('stg_wearable__device_bindings') }}
),

attributed as (
    select
        b.binding_id,
        r.*
    from readings as r
    inner join bindings as b
        on
            r.device_serial = b.device_serial
            and r.measured_at >= b.bound_at
            and (b.unbound_at is null or r.measured_at < b.unbound_at)
)

select
    binding_id,
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
    case metric
        when 'glucose'
            then bool_or(
                reading_value > {{ var('glucose_abnormal_high_mmol') }}
                or reading_value < {{ var('glucose_abnormal_low_mmol') }}
            )
        when 'systolic' then bool_or(reading_value >= {{ var('sbp_target_mmhg') }})
        when 'diastolic' then bool_or(reading_value >= {{ var('dbp_target_mmhg') }})
        else false
    end as is_abnormal,
    max(_loaded_at) as last_loaded_at
from attributed
group by binding_id, measured_date, metric
