-- Data coverage: how many readings and events each source delivered per day, and how many
-- of them could be attributed to a person (docs/business_rules.md "Data coverage"). One row
-- per source x vendor x device type x day; vendor and device_type are 'not_applicable' for
-- sources without devices. Counts cover everything landed (staging), whatever the as-of
-- date: attributed + unattributed = the staging rows of the source, so nothing vanishes
-- uncounted between staging and the marts. An aggregate: no person, no device serial.
-- The warning when a source's unattributed share exceeds coverage_max_unattributed_share:
-- tests/assert_data_coverage_within_threshold.sql.
{{ config(meta={'release_tier': 'aggregate'}) }}

with counts as (
    select
        'wearable_readings' as source,
        vendor,
        device_type,
        measured_date as event_date,
        is_attributed,
        reading_count as record_count
    from {{ ref('int_coverage__wearable_daily') }}
    union all
    select
        source,
        'not_applicable' as vendor,
        'not_applicable' as device_type,
        event_date,
        is_attributed,
        record_count
    from {{ ref('int_coverage__events_daily') }}
)

select
    source,
    vendor,
    device_type,
    event_date,
    cast(sum(record_count) as bigint) as total_records,
    cast(coalesce(sum(record_count) filter (where is_attributed), 0) as bigint) as attributed_records,
    cast(coalesce(sum(record_count) filter (where not is_attributed), 0) as bigint) as unattributed_records,
    cast(coalesce(sum(record_count) filter (where not is_attributed), 0) as double) / {{ p360_float("sum(record_count)") }}
        as unattributed_share
from counts
group by source, vendor, device_type, event_date
