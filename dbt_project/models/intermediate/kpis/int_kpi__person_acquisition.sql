-- One row per person seen by the as-of date (docs/metrics.md "Acquisition"):
--   registered_date / cohort_month: first day any source saw the person (the retention cohort);
--   first_touch_*: channel and campaign of the person's first CRM contact ('unattributed' /
--                  '(none)' without one): the lead's campaign, for the funnel;
--   acquired_date: the first paid service (first day the person paid: a visit payment or a
--                  completed consult's fee); null = not acquired (yet);
--   acquisition_channel / acquisition_campaign_id: the first campaign touch (a CRM contact
--                  created under a campaign) in the acquisition_window_days (30) before the
--                  acquired date, both ends inclusive; 'organic' / '(none)' when there is none
--                  (organic acquisition is reported separately, never charged to a channel).
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

-- one row per CRM contact (record versions collapse on their creation time)
touches as (
    select distinct
        k.person_id,
        k.created_at,
        k.source_channel,
        k.campaign_id
    from {{ ref('int_crm__contacts_keyed') }} as k
    cross join as_of
    where cast(k.created_at as date) <= as_of.as_of_date
),

first_touch as (
    select
        person_id,
        {{ p360_arg_min("source_channel", "created_at") }} as first_touch_channel,
        {{ p360_arg_min("campaign_id", "created_at") }} as first_touch_campaign_id
    from touches
    group by person_id
),

base as (
    select
        d.person_id,
        d.patient_key,
        coalesce(d.registered_date, s.first_service_date) as registered_date,
        s.first_service_date,
        s.first_paid_date as acquired_date,
        coalesce(s.service_days, 0) as service_days,
        coalesce(c.referrals_made, 0) as referrals_made,
        s.last_active_date,
        coalesce(s.total_revenue, 0) as total_revenue
    from {{ ref('int_patient__demographics') }} as d
    left join {{ ref('int_patient__service_summary') }} as s on d.person_id = s.person_id
    left join {{ ref('int_patient__crm') }} as c on d.person_id = c.person_id
),

attributed as (
    select
        b.person_id,
        {{ p360_arg_min("t.source_channel", "t.created_at") }} as acquisition_channel,
        {{ p360_arg_min("t.campaign_id", "t.created_at") }} as acquisition_campaign_id,
        cast(min(t.created_at) as date) as touch_date
    from base as b
    inner join touches as t
        on
            b.person_id = t.person_id
            and t.campaign_id is not null
            and cast(t.created_at as date) between b.acquired_date - {{ var('acquisition_window_days') }} and b.acquired_date
    group by b.person_id
)

-- joined on the integer person_id; patient_key comes with the person row (the published
-- segments that kpi_ltv_by_segment reads join on it)
select
    b.person_id,
    b.patient_key,
    b.registered_date,
    cast(date_trunc('month', b.registered_date) as date) as cohort_month,
    coalesce(ft.first_touch_channel, 'unattributed') as first_touch_channel,
    coalesce(ft.first_touch_campaign_id, '(none)') as first_touch_campaign_id,
    b.first_service_date,
    b.acquired_date,
    cast(date_trunc('month', b.acquired_date) as date) as acquisition_month,
    case when b.acquired_date is not null then coalesce(att.acquisition_channel, 'organic') end as acquisition_channel,
    case when b.acquired_date is not null then coalesce(att.acquisition_campaign_id, '(none)') end
        as acquisition_campaign_id,
    att.touch_date,
    cast(b.service_days as bigint) as service_days,
    cast(b.referrals_made as bigint) as referrals_made,
    b.last_active_date,
    cast(b.total_revenue as decimal(18, 2)) as total_revenue
from base as b
cross join as_of
left join first_touch as ft on b.person_id = ft.person_id
left join attributed as att on b.person_id = att.person_id
where b.registered_date <= as_of.as_of_date
