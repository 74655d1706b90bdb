-- One row per binding x day x metric with the day's summary and abnormal flag: the bound
-- rows of int_wearable__device_daily (attribution, thresholds and the incremental day
-- filter live there). binding_id, not patient_key, is stored, so later identity merges
-- never leave stale keys here. Readings no binding covers are not here: they are counted
-- in int_coverage__wearable_daily (kpi_data_coverage).
{{ config(materialized='view') }}

select
    binding_id,
    measured_date,
    metric,
    reading_count,
    value_sum,
    avg_value,
    min_value,
    max_value,
    is_abnormal,
    last_loaded_at
from {{ ref('int_wearable__device_daily') }}
where binding_id is not null
