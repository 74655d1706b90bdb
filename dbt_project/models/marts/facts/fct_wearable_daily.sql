-- Person x day x metric summary of home-device readings (int_wearable__daily_keyed: the
-- daily summary keyed to the person); no device serial, no binding id. A person with two
-- devices of one metric gets one row (counts summed, mean weighted).
-- Incremental: a run re-processes the last incremental_lookback_days days before the
-- latest one stored, plus the whole history of every person whose stored history no longer
-- matches their bindings (identity merges, late or closed bindings, late readings older than
-- the window): macro wearable_fact_scope. The pre-hook deletes that scope first, so rows
-- whose readings lost their attribution go too; rows of keys without a device binding any
-- more are deleted (post-hook), so an incremental run equals a full refresh.
{{ config(
    materialized=p360_row_incremental(),
    unique_key=['patient_key', 'measured_date', 'metric'],
    incremental_strategy='delete+insert',
    partition_by=p360_partition_by('measured_date'),
    on_schema_change='fail',
    pre_hook="{% if is_incremental() %}delete from {{ this }} where {{ wearable_fact_scope(this, ref('int_wearable__daily_keyed')) }}{% endif %}",
    post_hook="{{ p360_delete_hook('delete from ' ~ this ~ ' where patient_key not in (select patient_key from ' ~ ref('int_wearable__bindings_keyed') ~ ')') }}"
) }}
-- depends_on: {{ ref('int_wearable__bindings_keyed') }}

with changed as (
    select *
    from {{ ref('int_wearable__daily_keyed') }}
    {% if is_incremental() %}
        where {{ wearable_fact_scope(this, ref('int_wearable__daily_keyed')) }}
    {% endif %}
)

-- grouped on the integer person_id; a person's patient_key is one value (attached once upstream)
select
    any_value(patient_key) as patient_key,
    measured_date,
    metric,
    cast(sum(reading_count) as bigint) as reading_count,
    -- from the exact decimal sums: the same value whichever order devices are added in
    round(cast(sum(value_sum) as double) / {{ p360_float("sum(reading_count)") }}, 3) as avg_value,
    cast(min(min_value) as double) as min_value,
    cast(max(max_value) as double) as max_value,
    bool_or(is_abnormal) as is_abnormal
from changed
group by person_id, measured_date, metric
