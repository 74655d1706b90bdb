-- Data-richness tier per person and as-of date (business_rules.md "Value and need", docs/metrics.md
-- "Data richness"), the richest that holds:
--   medical:     a medical record in the HIS by D: a visit, prescription or lab result
--                (records, reports, prescriptions);
--   behavioural: no medical record but app usage by D: a consult request, a community event,
--                an opened or clicked message, an NPS answer or a device sync;
--   basic:       registration only (known to a source, nothing done yet).
{{ config(
    materialized='incremental',
    unique_key='as_of_date',
    incremental_strategy=p360_incremental_strategy(),
    partition_by=p360_partition_by('as_of_date'),
    on_schema_change='append_new_columns'
) }}

with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

per_person as (
    select
        e.person_id,
        count(*) filter (
            where e.event_type like 'visit_%' or e.event_type in ('prescription', 'lab_result')
        ) as medical_events,
        count(*) filter (
            where
            e.event_type like 'consult_%'
            or e.event_type like 'community_%'
            or e.event_type like 'message_%'
            or e.event_type in ('nps_response', 'wearable_sync')
        ) as behavioural_events
    from {{ ref('int_patient__events') }} as e
    cross join as_of
    where e.event_date <= as_of.as_of_date
    group by e.person_id
)

-- joined on the integer person_id; patient_key comes with the person row (attached once upstream)
select
    d.patient_key,
    as_of.as_of_date,
    cast(coalesce(p.medical_events, 0) as bigint) as medical_events,
    cast(coalesce(p.behavioural_events, 0) as bigint) as behavioural_events,
    case
        when p.medical_events > 0 then 'medical'
        when p.behavioural_events > 0 then 'behavioural'
        else 'basic'
    end as data_richness_tier
from {{ ref('int_patient__demographics') }} as d
cross join as_of
left join per_person as p on d.person_id = p.person_id
