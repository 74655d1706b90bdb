-- Value x ease-of-reach priority quadrant per person and as-of date (business_rules.md "Value and
-- need", docs/metrics.md "Priority quadrant"), as of D:
--   value points (0-3): spend per service day >= the median among people with a service;
--     repeat frequency: >= priority_repeat_min_service_days service days; referral likelihood:
--     referred someone or latest NPS 9-10 (a promoter). High value: >= priority_high_value_min_points;
--   easy to reach: marketing consent in force (without it the person may not be marketed to)
--     and channel activity (an opened or clicked message or a community event) or recent
--     contact (an activity) in the priority_reach_window_days ending on D;
--   quadrant: high_value_easy_reach (act now), high_value_hard_reach (build reach),
--     low_value_easy_reach (nurture), low_value_hard_reach (deprioritise).
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
        sum(e.revenue) as total_spend,
        count(distinct e.event_date) filter (where e.is_service) as service_days,
        bool_or(
            (e.event_type in ('message_opened', 'message_clicked') or e.event_type like 'community_%')
            and e.event_date > as_of.as_of_date - {{ var('priority_reach_window_days') }}
        ) as channel_active,
        bool_or(e.is_activity and e.event_date > as_of.as_of_date - {{ var('priority_reach_window_days') }})
            as recent_contact
    from {{ ref('int_patient__events') }} as e
    cross join as_of
    where e.event_date <= as_of.as_of_date
    group by e.person_id
),

spend_rate as (
    select
        person_id,
        cast(total_spend / {{ p360_float("service_days") }} as double) as spend_per_service_day
    from per_person
    where service_days > 0
),

median_rate as (
    select median(spend_per_service_day) as median_spend_per_service_day from spend_rate
),

flags as (
    select
        d.person_id,
        d.patient_key,
        as_of.as_of_date,
        s.spend_per_service_day,
        coalesce(s.spend_per_service_day >= m.median_spend_per_service_day, false) as high_spend_per_visit,
        coalesce(p.service_days >= {{ var('priority_repeat_min_service_days') }}, false) as repeat_customer,
        coalesce(c.referrals_made > 0 or c.latest_nps_score >= 9, false) as likely_referrer,
        coalesce(c.marketing_consent, false) as marketing_consent,
        coalesce(p.channel_active, false) as channel_active,
        coalesce(p.recent_contact, false) as recent_contact
    from {{ ref('int_patient__demographics') }} as d
    cross join as_of
    cross join median_rate as m
    left join per_person as p on d.person_id = p.person_id
    left join spend_rate as s on d.person_id = s.person_id
    left join {{ ref('int_patient__crm') }} as c on d.person_id = c.person_id
),

scored as (
    select
        *,
        cast(high_spend_per_visit as integer) + cast(repeat_customer as integer) + cast(likely_referrer as integer)
            as value_points,
        marketing_consent and (channel_active or recent_contact) as easy_to_reach
    from flags
)

-- joined on the integer person_id; patient_key comes with the person row (attached once upstream)
select
    patient_key,
    as_of_date,
    spend_per_service_day,
    high_spend_per_visit,
    repeat_customer,
    likely_referrer,
    value_points,
    marketing_consent,
    channel_active,
    recent_contact,
    easy_to_reach,
    case when value_points >= {{ var('priority_high_value_min_points') }} then 'high_value' else 'low_value' end
    || case when easy_to_reach then '_easy_reach' else '_hard_reach' end as priority_quadrant
from scored
