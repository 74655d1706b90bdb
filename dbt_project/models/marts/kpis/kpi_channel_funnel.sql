-- Acquisition funnel per channel and campaign, up to the as-of date; campaign_id '(all)'
-- rows roll a channel up. Two halves, each nested so every step rate lies in [0, 1]:
--   campaign-reported (fct_campaign_daily): impressions -> clicks -> consult requests -> appointments;
--   leads by the campaign of their first CRM contact (int_kpi__person_acquisition.first_touch_*):
--   acquired (leads) -> first visit (acquired through that same campaign: a first paid service
--   within acquisition_window_days of a touch, docs/metrics.md "Acquisition")
--   -> repeat visit (of those, services on 2+ days) -> referral (repeat patients who referred someone).
-- Rates: click_through = clicks/impressions, consult_request_rate = consult_requests/clicks,
-- appointment_rate = appointments/consult_requests, first_visit_rate = first_visit/acquired,
-- repeat_rate = repeat/first_visit, referral_rate = referral/repeat; null on a zero denominator.
-- appointment_to_first_visit = first_visit_patients/appointments bridges the two halves
-- (different sources, so it can exceed 1: organic first visits are not in campaign counts).
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

stats as (
    select
        coalesce(s.channel, 'unknown') as channel,
        s.campaign_id,
        sum(s.impressions) as impressions,
        sum(s.clicks) as clicks,
        sum(s.consult_requests) as consult_requests,
        sum(s.appointments) as appointments
    from {{ ref('fct_campaign_daily') }} as s
    cross join as_of
    where s.stat_date <= as_of.as_of_date
    group by all
),

persons as (
    select
        first_touch_channel as channel,
        first_touch_campaign_id as campaign_id,
        count(*) as acquired_patients,
        count(*) filter (where converted) as first_visit_patients,
        count(*) filter (where converted and service_days >= 2) as repeat_visit_patients,
        count(*) filter (where converted and service_days >= 2 and referrals_made > 0) as referral_patients
    from (
        select
            *,
            acquired_date is not null
            and (acquisition_campaign_id = first_touch_campaign_id or first_touch_campaign_id = '(none)') as converted
        from {{ ref('int_kpi__person_acquisition') }}
    ) as people
    group by all
),

by_campaign as (
    select
        coalesce(st.channel, p.channel) as channel,
        coalesce(st.campaign_id, p.campaign_id) as campaign_id,
        coalesce(st.impressions, 0) as impressions,
        coalesce(st.clicks, 0) as clicks,
        coalesce(st.consult_requests, 0) as consult_requests,
        coalesce(st.appointments, 0) as appointments,
        coalesce(p.acquired_patients, 0) as acquired_patients,
        coalesce(p.first_visit_patients, 0) as first_visit_patients,
        coalesce(p.repeat_visit_patients, 0) as repeat_visit_patients,
        coalesce(p.referral_patients, 0) as referral_patients
    from stats as st
    full outer join persons as p on st.channel = p.channel and st.campaign_id = p.campaign_id
),

with_rollup as (
    select * from by_campaign
    union all
    select
        channel,
        '(all)' as campaign_id,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(consult_requests) as consult_requests,
        sum(appointments) as appointments,
        sum(acquired_patients) as acquired_patients,
        sum(first_visit_patients) as first_visit_patients,
        sum(repeat_visit_patients) as repeat_visit_patients,
        sum(referral_patients) as referral_patients
    from by_campaign
    group by channel
)

select
    channel,
    campaign_id,
    cast(impressions as bigint) as impressions,
    cast(clicks as bigint) as clicks,
    cast(consult_requests as bigint) as consult_requests,
    cast(appointments as bigint) as appointments,
    cast(acquired_patients as bigint) as acquired_patients,
    cast(first_visit_patients as bigint) as first_visit_patients,
    cast(repeat_visit_patients as bigint) as repeat_visit_patients,
    cast(referral_patients as bigint) as referral_patients,
    cast(clicks / {{ p360_float("nullif(impressions, 0)") }} as double) as click_through_rate,
    cast(consult_requests / {{ p360_float("nullif(clicks, 0)") }} as double) as consult_request_rate,
    cast(appointments / {{ p360_float("nullif(consult_requests, 0)") }} as double) as appointment_rate,
    cast(first_visit_patients / {{ p360_float("nullif(appointments, 0)") }} as double) as appointment_to_first_visit,
    cast(first_visit_patients / {{ p360_float("nullif(acquired_patients, 0)") }} as double) as first_visit_rate,
    cast(repeat_visit_patients / {{ p360_float("nullif(first_visit_patients, 0)") }} as double) as repeat_rate,
    cast(referral_patients / {{ p360_float("nullif(repeat_visit_patients, 0)") }} as double) as referral_rate
from with_rollup
