-- Chronic disease control by month and programme (docs/metrics.md "Chronic control"), as of each
-- month's end (or the as-of date in the current month); membership as of that day: people whose
-- first diagnosis mapped to the programme (seed icd10_programmes) is on or before it:
--   diabetes:     measured = has an HbA1c result in the control_recency_days (180) ending on the
--                 month end; controlled = the latest of them < hba1c_target_pct;
--   hypertension: measured = has a BP reading in that window (clinic or home device, the latest
--                 day wins, device before clinic on the same day); controlled = sbp <
--                 sbp_target_mmhg and dbp < dbp_target_mmhg (140/90);
--   control_rate = controlled / measured.
-- Complication alerts: a run of churn_abnormal_streak_days (3) consecutive abnormal device days
-- (glucose for diabetes, BP for hypertension) raises one alert on its third day;
-- alert_count = alerts raised in the month, alerted_patients = people with one.
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

-- programme members with the day they joined (first mapped diagnosis, up to the as-of date)
members as (
    select
        d.person_id,
        p.programme,
        cast(min(d.diagnosed_at) as date) as member_from
    from {{ ref('int_his__diagnoses_keyed') }} as d
    inner join {{ ref('icd10_programmes') }} as p on d.icd10_category = p.icd10_prefix
    cross join as_of
    where p.programme in ('diabetes', 'hypertension') and cast(d.diagnosed_at as date) <= as_of.as_of_date
    group by d.person_id, p.programme
),

measures as (
    select
        m.*,
        case m.measure when 'hba1c' then 'diabetes' when 'bp' then 'hypertension' end as programme
    from {{ ref('int_kpi__control_measurements') }} as m
    cross join as_of
    where m.measured_date <= as_of.as_of_date
),

-- months from the first measurement on
months as (
    select
        month,
        month_end
    from {{ ref('int_calendar__months') }}
    where month >= (select date_trunc('month', min(ms.measured_date)) from measures as ms)
),

latest as (
    select
        mb.programme,
        mb.person_id,
        months.month,
        case mb.programme
            when 'diabetes' then {{ p360_arg_max('ms.hba1c_pct < ' ~ var('hba1c_target_pct'), 'ms.measured_date') }}
            else {{ p360_arg_max(
                'ms.sbp < ' ~ var('sbp_target_mmhg') ~ ' and ms.dbp < ' ~ var('dbp_target_mmhg'),
                p360_list([p360_date_diff('day', "date '1970-01-01'", 'ms.measured_date'),
                    "case ms.measure_source when 'device' then 1 else 0 end"])
            ) }}
        end as is_controlled
    from members as mb
    inner join months on mb.member_from <= months.month_end
    inner join measures as ms
        on
            mb.person_id = ms.person_id
            and mb.programme = ms.programme
            and ms.measured_date between months.month_end - {{ var('control_recency_days') }} + 1 and months.month_end
    group by mb.programme, mb.person_id, months.month
),

abnormal_days as (
    select
        person_id,
        measured_date,
        case measure when 'glucose' then 'diabetes' else 'hypertension' end as programme,
        measured_date - cast(row_number() over (
            partition by person_id, measure order by measured_date
        ) as integer) as run_id
    from measures
    where measure in ('glucose', 'bp') and measure_source = 'device' and is_abnormal
),

alerts as (
    select
        a.person_id,
        a.programme,
        min(a.measured_date) + ({{ var('churn_abnormal_streak_days') }} - 1) as alert_date
    from abnormal_days as a
    inner join members as mb on a.person_id = mb.person_id and a.programme = mb.programme
    group by a.person_id, a.programme, a.run_id
    having count(*) >= {{ var('churn_abnormal_streak_days') }}
),

programme_months as (
    select
        p.programme,
        months.month,
        months.month_end
    from (values ('diabetes'), ('hypertension')) as p (programme)
    cross join months
),

member_counts as (
    select
        pm.programme,
        pm.month,
        count(m.programme) as programme_patients
    from programme_months as pm
    left join members as m on pm.programme = m.programme and pm.month_end >= m.member_from
    group by pm.programme, pm.month
),

alert_counts as (
    select
        alerts.programme,
        date_trunc('month', alerts.alert_date) as month,
        count(*) as alert_count,
        count(distinct alerts.person_id) as alerted_patients
    from alerts
    group by alerts.programme, date_trunc('month', alerts.alert_date)
)

select
    pm.month,
    pm.programme,
    cast(mc.programme_patients as bigint) as programme_patients,
    cast(count(distinct l.person_id) as bigint) as measured_patients,
    cast(count(distinct l.person_id) filter (where l.is_controlled) as bigint) as controlled_patients,
    cast(count(distinct l.person_id) filter (where l.is_controlled) / {{ p360_float("nullif(count(distinct l.person_id), 0)") }} as double)
        as control_rate,
    cast(coalesce(ac.alert_count, 0) as bigint) as alert_count,
    cast(coalesce(ac.alerted_patients, 0) as bigint) as alerted_patients
from programme_months as pm
inner join member_counts as mc on pm.programme = mc.programme and pm.month = mc.month
left join alert_counts as ac on pm.programme = ac.programme and pm.month = ac.month
left join latest as l on pm.programme = l.programme and pm.month = l.month
group by pm.programme, pm.month, pm.month_end, mc.programme_patients, ac.alert_count, ac.alerted_patients
