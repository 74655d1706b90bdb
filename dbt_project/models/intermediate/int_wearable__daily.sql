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

with readings as (
    select * from {{ ref('int_wearable__readings') }}
    {% if is_incremental() %}
        where measured_date >= (
            select coalesce(max(measured_date), date '1900-01-01') - interval {{ var('incremental_lookback_days') }} day
            from {{ this }}
        )
    {% endif %}
)

select
    readings.binding_id,
    readings.measured_date,
    readings.metric,
    count(*) as reading_count,
    avg(readings.reading_value) as avg_value,
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
    end as is_abnormal
from readings
group by readings.binding_id, readings.measured_date, readings.metric
