-- int_wearable__daily keyed to the person (patient_key via identity_links on the binding
-- id), one row per binding x day x metric; the binding id stays behind. A view: the daily
-- summary stays keyed by binding (incremental), the person key is looked up when read, so
-- identity merges never leave stale keys.
{{ config(materialized='view') }}

select
    links.person_id,
    links.patient_key,
    daily.measured_date,
    daily.metric,
    daily.reading_count,
    daily.value_sum,
    daily.avg_value,
    daily.min_value,
    daily.max_value,
    daily.is_abnormal
from {{ ref('int_wearable__daily') }} as daily
inner join {{ ref('identity_links') }} as links
    on daily.binding_id = links.source_record_id and links.source = 'wearable'
