-- One row per binding x day x metric with the day's summary and abnormal flag
-- (glucose outside [glucose_abnormal_low_mmol, glucose_abnormal_high_mmol],
-- BP at or above sbp/dbp targets). Incremental with the same lookback as readings;
-- keyed by binding_id, patient_key is joined downstream (identity can change).
{{ config(
    materialized='incremental',
    unique_key=['binding_id', 'measured_date', 'metric'],
    incremental_strategy='delete+insert',
    on_schema_change='fail'
) }}

{% if is_incremental() %}
with touched as (
    -- every binding-day-metric in the lookback window or touched by newly landed readings
    select distinct binding_id, measured_date, metric
    from {{ ref('int_wearable__readings') }}
    where measured_date >= (
        select coalesce(max(measured_date), date '1900-01-01') - interval {{ var('incremental_lookback_days') }} day
        from {{ this }}
    )
    or _loaded_at > (select coalesce(max(last_loaded_at), timestamp '1900-01-01') from {{ this }})
),

readings as (
    select r.*
    from {{ ref('int_wearable__readings') }} as r
    semi join touched using (binding_id, measured_date, metric)
)
{% else %}
with readings as (
    select * from {{ ref('int_wearable__readings') }}
)
{% endif %}

select
    readings.binding_id,
    readings.measured_date,
    readings.metric,
    count(*) as reading_count,
    -- exact decimal sum: summation order (incremental vs full refresh) must not change the result
    sum(cast(readings.reading_value as decimal(18, 3))) as value_sum,
    round(cast(sum(cast(readings.reading_value as decimal(18, 3))) as double) / count(*), 3) as avg_value,
    min(readings.reading_value) as min_value,
    max(readings.reading_value) as max_value,
    case readings.metric
        when 'glucose' then bool_or(
            readings.reading_value > {{ var('glucose_abnormal_high_mmol') }}
            or readings.reading_value < {{ var('glucose_abnormal_low_mmol') }}
        )
        when 'systolic' then bool_or(readings.reading_value >= {{ var('sbp_target_mmhg') }})
        when 'diastolic' then bool_or(readings.reading_value >= {{ var('dbp_target_mmhg') }})
        else false
    end as is_abnormal,
    max(readings._loaded_at) as last_loaded_at
from readings
group by readings.binding_id, readings.measured_date, readings.metric
