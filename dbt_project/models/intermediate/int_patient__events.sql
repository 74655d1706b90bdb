-- Every interaction of every person on one spine: the input of lifecycle, RFM,
-- churn-risk and activity KPIs. is_service marks paid/clinical services
-- (visits, consults, prescriptions); revenue is what the person paid, as DECIMAL(18,2):
-- money is never summed as double (float sums depend on the order DuckDB's threads add them).
with links as (
    select * from {{ ref('identity_links') }}
),

his as (
    select l.patient_key, v.visit_date as event_date, 'visit_' || v.visit_type as event_type, v.specialty,
        cast(0 as decimal(18, 2)) as revenue, true as is_service
    from {{ ref('stg_his__visits') }} as v
    inner join links as l on l.source = 'his' and l.source_record_id = v.mrn
    union all
    select l.patient_key, p.prescribed_date, 'prescription', null, 0.0, true
    from {{ ref('stg_his__prescriptions') }} as p
    inner join links as l on l.source = 'his' and l.source_record_id = p.mrn
    union all
    select l.patient_key, pay.paid_date, 'payment', null, cast(pay.amount as decimal(18, 2)), false
    from {{ ref('stg_his__payments') }} as pay
    inner join links as l on l.source = 'his' and l.source_record_id = pay.mrn
    union all
    select l.patient_key, lab.collected_date, 'lab_result', null, 0.0, false
    from {{ ref('stg_his__lab_results') }} as lab
    inner join links as l on l.source = 'his' and l.source_record_id = lab.mrn
),

consult as (
    select l.patient_key, s.requested_date, 'consult_' || s.session_status, s.specialty,
        case when s.session_status = 'completed' then cast(s.fee as decimal(18, 2)) else 0 end,
        s.session_status = 'completed'
    from {{ ref('stg_consult__sessions') }} as s
    inner join links as l on l.source = 'consult' and l.source_record_id = s.platform_user_id
),

crm as (
    select l.patient_key, p.occurred_date, 'community_' || p.event_type, null, 0.0, false
    from {{ ref('stg_crm__points_ledger') }} as p
    inner join links as l on l.source = 'crm' and l.source_record_id = p.contact_id
    union all
    select l.patient_key, m.occurred_date, 'message_' || m.event_type, null, 0.0, false
    from {{ ref('stg_crm__message_events') }} as m
    inner join links as l on l.source = 'crm' and l.source_record_id = m.contact_id
    where m.event_type in ('opened', 'clicked')
    union all
    select l.patient_key, n.answered_date, 'nps_response', null, 0.0, false
    from {{ ref('stg_crm__nps_responses') }} as n
    inner join links as l on l.source = 'crm' and l.source_record_id = n.contact_id
),

wearable as (
    select distinct l.patient_key, d.measured_date, 'wearable_sync', null, 0.0, false
    from {{ ref('int_wearable__daily') }} as d
    inner join links as l on l.source = 'wearable' and l.source_record_id = d.binding_id
)

select * from his
union all select * from consult
union all select * from crm
union all select * from wearable
