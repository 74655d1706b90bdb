-- Every interaction of every person on one spine: the input of lifecycle, RFM,
-- churn-risk and activity KPIs. is_service marks paid/clinical services
-- (visits, consults, prescriptions); revenue is what the person paid, as DECIMAL(18,2):
-- money is never summed as double (float sums depend on the order DuckDB's threads add them).
with his as (
    select
        patient_key,
        visit_date as event_date,
        'visit_' || visit_type as event_type,
        specialty,
        cast(0 as decimal(18, 2)) as revenue,
        true as is_service
    from {{ ref('int_his__visits_keyed') }}
    union all
    select
        patient_key,
        prescribed_date,
        'prescription',
        null,
        0.0,
        true
    from {{ ref('int_his__prescriptions_keyed') }}
    union all
    select
        patient_key,
        paid_date,
        'payment',
        null,
        cast(amount as decimal(18, 2)),
        false
    from {{ ref('int_his__payments_keyed') }}
    union all
    select
        patient_key,
        collected_date,
        'lab_result',
        null,
        0.0,
        false
    from {{ ref('int_his__lab_results_keyed') }}
),

consult as (
    select
        patient_key,
        requested_date,
        'consult_' || session_status,
        specialty,
        case when session_status = 'completed' then cast(fee as decimal(18, 2)) else 0 end,
        session_status = 'completed'
    from {{ ref('int_consult__sessions_keyed') }}
),

crm as (
    select
        patient_key,
        occurred_date,
        'community_' || event_type,
        null,
        0.0,
        false
    from {{ ref('int_crm__points_ledger_keyed') }}
    union all
    select
        patient_key,
        occurred_date,
        'message_' || event_type,
        null,
        0.0,
        false
    from {{ ref('int_crm__message_events_keyed') }}
    where event_type in ('opened', 'clicked')
    union all
    select
        patient_key,
        answered_date,
        'nps_response',
        null,
        0.0,
        false
    from {{ ref('int_crm__nps_responses_keyed') }}
),

wearable as (
    select distinct
        patient_key,
        measured_date,
        'wearable_sync',
        null,
        0.0,
        false
    from {{ ref('int_wearable__daily_keyed') }}
)

select * from his
union all select * from consult
union all select * from crm
union all select * from wearable
