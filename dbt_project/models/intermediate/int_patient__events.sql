-- Every event of every person up to the as-of date (nothing after it: point-in-time) on one
-- spine: the input of lifecycle, RFM, churn-risk and activity KPIs (docs/metrics.md "Activity").
-- is_service marks paid/clinical services (visits, completed consults, prescriptions);
-- is_activity marks what the person did (visits, consult requests, community purchases, posts,
-- check-ins, talks, tasks, referrals); everything else (payments, lab results, prescriptions
-- written by a doctor, device syncs, message opens/clicks, NPS answers) is an engagement
-- signal: kept, never counted as activity. revenue is what the person paid, as DECIMAL(18,2):
-- money is never summed as double (float sums depend on the order DuckDB's threads add them).
with his as (
    select
        person_id,
        patient_key,
        visit_date as event_date,
        'visit_' || visit_type as event_type,
        specialty,
        cast(0 as decimal(18, 2)) as revenue,
        true as is_service
    from {{ ref('int_his__visits_keyed') }}
    union all
    select
        person_id,
        patient_key,
        prescribed_date as event_date,
        'prescription' as event_type,
        null as specialty,
        0.0 as revenue,
        true as is_service
    from {{ ref('int_his__prescriptions_keyed') }}
    union all
    select
        person_id,
        patient_key,
        paid_date as event_date,
        'payment' as event_type,
        null as specialty,
        cast(amount as decimal(18, 2)) as revenue,
        false as is_service
    from {{ ref('int_his__payments_keyed') }}
    union all
    select
        person_id,
        patient_key,
        collected_date as event_date,
        'lab_result' as event_type,
        null as specialty,
        0.0 as revenue,
        false as is_service
    from {{ ref('int_his__lab_results_keyed') }}
),

consult as (
    select
        person_id,
        patient_key,
        requested_date as event_date,
        'consult_' || session_status as event_type,
        specialty,
        case when session_status = 'completed' then cast(fee as decimal(18, 2)) else 0 end as revenue,
        session_status = 'completed' as is_service
    from {{ ref('int_consult__sessions_keyed') }}
),

crm as (
    select
        ledger.person_id,
        ledger.patient_key,
        ledger.occurred_date as event_date,
        'community_' || ledger.event_type as event_type,
        null as specialty,
        0.0 as revenue,
        false as is_service
    from {{ ref('int_crm__points_ledger_keyed') }} as ledger
    union all
    select
        messages.person_id,
        messages.patient_key,
        messages.occurred_date as event_date,
        'message_' || messages.event_type as event_type,
        null as specialty,
        0.0 as revenue,
        false as is_service
    from {{ ref('int_crm__message_events_keyed') }} as messages
    where messages.event_type in ('opened', 'clicked')
    union all
    select
        person_id,
        patient_key,
        answered_date as event_date,
        'nps_response' as event_type,
        null as specialty,
        0.0 as revenue,
        false as is_service
    from {{ ref('int_crm__nps_responses_keyed') }}
),

wearable as (
    select distinct
        person_id,
        patient_key,
        measured_date as event_date,
        'wearable_sync' as event_type,
        null as specialty,
        0.0 as revenue,
        false as is_service
    from {{ ref('int_wearable__daily_keyed') }}
),

all_events as (
    select * from his
    union all
    select * from consult
    union all
    select * from crm
    union all
    select * from wearable
)

select
    e.*,
    (
        e.event_type like 'visit_%'
        or e.event_type like 'consult_%'
        or (e.event_type like 'community_%' and e.event_type <> 'community_redeem')
    ) as is_activity
from all_events as e
cross join {{ ref('int_run__as_of') }} as a
where e.event_date <= a.as_of_date
