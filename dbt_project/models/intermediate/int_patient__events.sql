-- Every event of every person up to the as-of date (nothing after it: point-in-time) on one
-- spine: the input of lifecycle, RFM, churn-risk and activity KPIs (docs/metrics.md "Activity").
-- is_service marks paid/clinical services (visits, completed consults, prescriptions);
-- is_activity marks what the person did (visits, consult requests, community purchases, posts,
-- check-ins, talks, tasks, referrals); everything else (payments, lab results, prescriptions
-- written by a doctor, device syncs, message opens/clicks, NPS answers) is an engagement
-- signal: kept, never counted as activity. revenue is what the person paid, as DECIMAL(18,2):
-- money is never summed as double (float sums depend on the order DuckDB's threads add them).
-- Built from the per-person event log (int_patient__event_log, change-driven) and the device
-- syncs of int_wearable__daily_keyed (incremental on its own), filtered to the as-of date
-- and keyed: the only as-of-dependent step, so a daily run re-reads the log, not the sources.
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

logged as (
    select
        event_log.person_id,
        person_keys.patient_key,
        event_log.event_date,
        event_log.event_type,
        event_log.specialty,
        event_log.revenue,
        event_log.is_service,
        event_log.is_activity
    from {{ ref('int_patient__event_log') }} as event_log
    inner join {{ ref('person_keys') }} as person_keys on event_log.person_id = person_keys.person_id
    where event_log.event_date <= (select a.as_of_date from as_of as a)
),

wearable as (
    select distinct
        person_id,
        patient_key,
        measured_date as event_date,
        'wearable_sync' as event_type,
        cast(null as {{ dbt.type_string() }}) as specialty,
        cast(0 as decimal(18, 2)) as revenue,
        false as is_service,
        false as is_activity
    from {{ ref('int_wearable__daily_keyed') }}
    where measured_date <= (select a.as_of_date from as_of as a)
)

select * from logged
union all
select * from wearable
