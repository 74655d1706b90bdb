-- Person x day x metric summary of home-device readings (int_wearable__daily_keyed: the
-- daily summary keyed to the person); no device serial, no binding id. A person with two
-- devices of one metric gets one row (counts summed, mean weighted).
-- Incremental: a run re-processes the last incremental_lookback_days days before the
-- latest one stored, plus every day of persons whose stored history no longer matches
-- their bindings (identity merges, late readings older than the window); rows of keys
-- without a device binding any more are deleted (post-hook), so an incremental run equals
-- a full refresh.
{{ config(
    materialized='incremental',
    unique_key=['patient_key', 'measured_date', 'metric'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    post_hook="delete from {{ this }} where patient_key not in (select patient_key from {{ ref('int_wearable__bindings_keyed') }})"
) }}
-- depends_on: {{ ref('int_wearable__bindings_keyed') }}

with keyed as (
    select * from {{ ref('int_wearable__daily_keyed') }}
),

{% if is_incremental() %}
cutoff as (
    select coalesce(max(measured_date), date '1900-01-01') - interval {{ var('incremental_lookback_days') }} day as cutoff_date
    from {{ this }}
),

-- per person, a fingerprint of the history before the window: differs when bindings
-- moved between persons or old readings arrived late
source_history as (
    select keyed.patient_key, count(*) as n_rows, sum(keyed.reading_count) as n_readings
    from keyed cross join cutoff
    where keyed.measured_date < cutoff.cutoff_date
    group by keyed.patient_key
),

stored_history as (
    select stored.patient_key, count(*) as n_rows, sum(stored.reading_count) as n_readings
    from {{ this }} as stored cross join cutoff
    where stored.measured_date < cutoff.cutoff_date
    group by stored.patient_key
),

stale_persons as (
    select coalesce(s.patient_key, t.patient_key) as patient_key
    from source_history as s
    full outer join stored_history as t on t.patient_key = s.patient_key
    where s.n_rows is distinct from t.n_rows or s.n_readings is distinct from t.n_readings
),
{% endif %}

changed as (
    select keyed.*
    from keyed
    {% if is_incremental() %}
        where keyed.measured_date >= (select cutoff_date from cutoff)
        or keyed.patient_key in (select patient_key from stale_persons)
    {% endif %}
)

select
    patient_key,
    measured_date,
    metric,
    cast(sum(reading_count) as bigint) as reading_count,
    -- from the exact decimal sums: the same value whichever order devices are added in
    round(cast(sum(value_sum) as double) / sum(reading_count), 3) as avg_value,
    cast(min(min_value) as double) as min_value,
    cast(max(max_value) as double) as max_value,
    bool_or(is_abnormal) as is_abnormal
from changed
group by patient_key, measured_date, metric
