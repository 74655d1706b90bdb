-- Per-person event state, independent of the as-of date: every event of every person from
-- the HIS, consult and CRM sources on one spine, keyed on the integer person_id only (the
-- patient_key is attached by int_patient__events, so key rotation never touches it). Device
-- syncs are not here: they come from int_wearable__daily, incremental on its own.
--
-- Change-driven: an incremental run rebuilds only the persons int_run__touched_persons lists
-- (new or corrected source rows, identity merges and splits, removed rows); the pre-hook
-- deletes their rows first, so events that left a person go with them, and the post-hook
-- drops the rows of persons who no longer exist (erasure). Every row written carries what
-- the touched list was computed against: the source watermark (_loaded_through) and the last
-- identity change applied (_identity_seq); the next run starts from the largest stored ones.
-- On Spark the log is rebuilt whole (p360_row_incremental).
{{ config(
    materialized=p360_row_incremental(),
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{% if is_incremental() %}delete from {{ this }} where person_id in (select person_id from {{ ref('int_run__touched_persons') }}){% endif %}",
    post_hook="{{ p360_delete_hook('delete from ' ~ this ~ ' where person_id not in (select person_id from ' ~ ref('person_keys') ~ ')') }}"
) }}
-- depends_on: {{ ref('int_run__touched_persons') }}
-- depends_on: {{ ref('identity_change_log') }}

with his as (
    select
        person_id,
        visit_date as event_date,
        'visit_' || visit_type as event_type,
        specialty,
        cast(0 as decimal(18, 2)) as revenue,
        true as is_service
    from {{ ref('int_his__visits_keyed') }}
    union all
    select
        person_id,
        prescribed_date as event_date,
        'prescription' as event_type,
        null as specialty,
        0.0 as revenue,
        true as is_service
    from {{ ref('int_his__prescriptions_keyed') }}
    union all
    select
        person_id,
        paid_date as event_date,
        'payment' as event_type,
        null as specialty,
        cast(amount as decimal(18, 2)) as revenue,
        false as is_service
    from {{ ref('int_his__payments_keyed') }}
    union all
    select
        person_id,
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
        ledger.occurred_date as event_date,
        'community_' || ledger.event_type as event_type,
        null as specialty,
        0.0 as revenue,
        false as is_service
    from {{ ref('int_crm__points_ledger_keyed') }} as ledger
    union all
    select
        messages.person_id,
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
        answered_date as event_date,
        'nps_response' as event_type,
        null as specialty,
        0.0 as revenue,
        false as is_service
    from {{ ref('int_crm__nps_responses_keyed') }}
),

all_events as (
    select * from his
    union all
    select * from consult
    union all
    select * from crm
)

select
    e.person_id,
    e.event_date,
    e.event_type,
    e.specialty,
    e.revenue,
    e.is_service,
    (
        e.event_type like 'visit_%'
        or e.event_type like 'consult_%'
        or (e.event_type like 'community_%' and e.event_type <> 'community_redeem')
    ) as is_activity,
    {% if is_incremental() %}
        (select max(t.loaded_through) from {{ ref('int_run__touched_persons') }} as t) as _loaded_through,
        (select max(t.identity_seq) from {{ ref('int_run__touched_persons') }} as t) as _identity_seq
    {% else %}
        {{ p360_event_sources_loaded_through() }} as _loaded_through,
        (select coalesce(max(c.change_seq), 0) from {{ ref('identity_change_log') }} as c) as _identity_seq
    {% endif %}
from all_events as e
{% if is_incremental() %}
    where e.person_id in (select t.person_id from {{ ref('int_run__touched_persons') }} as t)
{% endif %}
