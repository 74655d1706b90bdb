-- Churn warning (business_rules.md "Churn warning"). Signals, each a column:
--   no_interaction_low    >= churn_low_days_without_interaction days without activity (what the person
--                         did: int_patient__events.is_activity; device syncs and message opens do not count)
--   no_interaction_medium >= churn_medium_days_without_interaction days without activity
--   no_checkin            community member without a check-in for churn_checkin_gap_days
--   no_message_open       sent messages but none opened for churn_message_open_gap_days
--   consult_drop          consults in the last 30 days <= (1 - churn_consult_drop_ratio) x the 30 before (and > 0 before)
--   abnormal_streak       churn_abnormal_streak_days consecutive days with abnormal glucose/BP readings
--   leave_intent          left a community group giving a reason, or latest NPS 0-3 (stated dissatisfaction)
-- Level: high if leave_intent or abnormal_streak (stated intent, health signal); medium if
-- no_interaction_medium or two behaviour signals; low if no_interaction_low or one behaviour
-- signal; else none. Churned people (> lifecycle_churned_days inactive) are out of scope: 'none'.
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

events as (
    select
        e.*,
        as_of.as_of_date
    from {{ ref('int_patient__events') }} as e
    cross join as_of
    where e.event_date <= as_of.as_of_date
),

per_person as (
    select
        person_id,
        any_value(as_of_date) as as_of_date,
        max(event_date) filter (where is_activity) as last_event_date,
        max(event_date) filter (where event_type = 'community_checkin') as last_checkin_date,
        max(event_date) filter (where event_type = 'message_opened') as last_open_date,
        count(*) filter (where event_type like 'consult_%' and event_date > as_of_date - interval 30 day) as consults_last_30,
        count(*) filter (
            where
            event_type like 'consult_%'
            and event_date <= as_of_date - interval 30 day
            and event_date > as_of_date - interval 60 day
        ) as consults_prev_30
    from events
    group by person_id
),

sent as (
    select
        person_id,
        min(occurred_date) as first_sent_date
    from {{ ref('int_crm__message_events_keyed') }}
    where event_type = 'sent' and occurred_date <= (select a.as_of_date from as_of as a)
    group by person_id
),

abnormal_days as (
    select distinct
        d.person_id,
        d.measured_date
    from {{ ref('int_wearable__daily_keyed') }} as d
    cross join as_of
    where d.is_abnormal and d.metric in ('glucose', 'systolic', 'diastolic') and d.measured_date <= as_of.as_of_date
),

streaks as (
    -- gaps-and-islands: consecutive abnormal days share (date - row_number)
    select
        runs.person_id,
        max(runs.n) as longest_recent_streak
    from (
        select
            numbered.person_id,
            count(*) as n,
            max(numbered.measured_date) as streak_end
        from (
            select
                *,
                measured_date - cast(row_number() over (partition by person_id order by measured_date) as integer)
                    as grp
            from abnormal_days
        ) as numbered
        group by numbered.person_id, numbered.grp
    ) as runs
    cross join as_of
    where runs.streak_end > as_of.as_of_date - interval 7 day
    group by runs.person_id
),

leave as (
    select
        person_id,
        bool_or(left_at is not null and leave_reason is not null) as left_with_reason
    from {{ ref('int_crm__group_memberships_keyed') }}
    where cast(left_at as date) <= (select a.as_of_date from as_of as a)
    group by person_id
),

-- joined on the integer person_id; patient_key comes with the person row (attached once upstream)
signals as (
    select
        d.patient_key,
        as_of.as_of_date,
        {{ p360_date_diff('day', "coalesce(p.last_event_date, d.registered_date)", "as_of.as_of_date") }} as days_without_interaction,
        (
            {{ p360_date_diff('day', "coalesce(p.last_event_date, d.registered_date)", "as_of.as_of_date") }}
            >= {{ var('churn_low_days_without_interaction') }}
        ) as no_interaction_low,
        (
            {{ p360_date_diff('day', "coalesce(p.last_event_date, d.registered_date)", "as_of.as_of_date") }}
            >= {{ var('churn_medium_days_without_interaction') }}
        ) as no_interaction_medium,
        (
            coalesce(c.community_member, false)
            and {{ p360_date_diff('day', "coalesce(p.last_checkin_date, date '1900-01-01')", "as_of.as_of_date") }}
            >= {{ var('churn_checkin_gap_days') }}
        ) as no_checkin,
        (
            s.first_sent_date is not null
            and s.first_sent_date <= as_of.as_of_date - interval {{ var('churn_message_open_gap_days') }} day
            and {{ p360_date_diff('day', "coalesce(p.last_open_date, date '1900-01-01')", "as_of.as_of_date") }}
            >= {{ var('churn_message_open_gap_days') }}
        ) as no_message_open,
        (
            coalesce(p.consults_prev_30, 0) > 0
            and p.consults_last_30 <= (1 - {{ var('churn_consult_drop_ratio') }}) * p.consults_prev_30
        ) as consult_drop,
        coalesce(st.longest_recent_streak, 0) >= {{ var('churn_abnormal_streak_days') }} as abnormal_streak,
        coalesce(lv.left_with_reason, false) or coalesce(c.latest_nps_score <= 3, false) as leave_intent
    from {{ ref('int_patient__demographics') }} as d
    cross join as_of
    left join per_person as p on d.person_id = p.person_id
    left join sent as s on d.person_id = s.person_id
    left join streaks as st on d.person_id = st.person_id
    left join leave as lv on d.person_id = lv.person_id
    left join {{ ref('int_patient__crm') }} as c on d.person_id = c.person_id
)

select
    *,
    (cast(no_checkin as int) + cast(no_message_open as int) + cast(consult_drop as int)) as behaviour_signals,
    case
        when days_without_interaction > {{ var('lifecycle_churned_days') }} then 'none'
        when leave_intent or abnormal_streak then 'high'
        when
            no_interaction_medium or (cast(no_checkin as int) + cast(no_message_open as int) + cast(consult_drop as int)) >= 2
            then 'medium'
        when no_interaction_low or no_checkin or no_message_open or consult_drop then 'low'
        else 'none'
    end as churn_risk_level,
    concat_ws(
        ';',
        case
            when no_interaction_medium then 'no_interaction_' || {{ var('churn_medium_days_without_interaction') }} || 'd'
            when no_interaction_low then 'no_interaction_' || {{ var('churn_low_days_without_interaction') }} || 'd'
        end,
        case when no_checkin then 'no_checkin_' || {{ var('churn_checkin_gap_days') }} || 'd' end,
        case when no_message_open then 'no_message_open_' || {{ var('churn_message_open_gap_days') }} || 'd' end,
        case when consult_drop then 'consult_drop' end,
        case when abnormal_streak then 'abnormal_streak' end,
        case when leave_intent then 'leave_intent' end
    ) as churn_risk_reasons
from signals
