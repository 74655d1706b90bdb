-- One row per person acquired by the as-of date: acquisition date (first day seen by
-- any source, else first service), monthly cohort, attributed channel and campaign
-- (earliest CRM contact; 'unattributed' / '(none)' when unknown) and the facts the
-- funnel needs (first service, service days, referrals made, last active day, revenue).
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

people as (
    select
        d.patient_key,
        coalesce(d.registered_date, s.first_service_date) as acquisition_date,
        coalesce(c.acquisition_channel, 'unattributed') as acquisition_channel,
        coalesce(c.acquisition_campaign_id, '(none)') as acquisition_campaign_id,
        s.first_service_date,
        coalesce(s.service_days, 0) as service_days,
        coalesce(c.referrals_made, 0) as referrals_made,
        s.last_active_date,
        coalesce(s.total_revenue, 0) as total_revenue
    from {{ ref('int_patient__demographics') }} as d
    left join {{ ref('int_patient__service_summary') }} as s on d.patient_key = s.patient_key
    left join {{ ref('int_patient__crm') }} as c on d.patient_key = c.patient_key
)

select
    people.patient_key,
    people.acquisition_date,
    cast(date_trunc('month', people.acquisition_date) as date) as cohort_month,
    people.acquisition_channel,
    people.acquisition_campaign_id,
    people.first_service_date,
    cast(people.service_days as bigint) as service_days,
    cast(people.referrals_made as bigint) as referrals_made,
    people.last_active_date,
    cast(people.total_revenue as decimal(18, 2)) as total_revenue
from people
cross join as_of
where people.acquisition_date <= as_of.as_of_date
