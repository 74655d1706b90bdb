-- Medication adherence and follow-up of chronic patients as of the run date, per chronic
-- programme ('all_chronic' = anyone in a chronic programme) and look-back window
-- (adherence_windows_days: 90, 180):
--   patients_with_prescription  chronic patients with a PDC in the window (int_kpi__patient_pdc:
--                               chronic-programme drugs only, seed drug_programmes);
--   mean_pdc, adherent_patients (PDC >= adherence_pdc_threshold, 0.8), adherent_share = adherent / with prescription;
--   follow-up: the window is cut into consecutive periods of followup_window_days (90) ending on
--   the as-of date; followup_eligible_patients = patients in the programme for the whole window
--   (first diagnosis on or before its first day); a patient completed follow-up when every
--   period has a visit, a completed consult or a lab result;
--   followup_completion_rate = completed eligible / eligible.
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

chronic_programmes as (
    select distinct programme from {{ ref('icd10_programmes') }}
    where is_chronic
),

-- programme members and the day they joined (first mapped diagnosis, up to the as-of date)
programme_members as (
    select
        d.person_id,
        p.programme,
        cast(min(d.diagnosed_at) as date) as member_from
    from {{ ref('int_his__diagnoses_keyed') }} as d
    inner join {{ ref('icd10_programmes') }} as p on d.icd10_category = p.icd10_prefix
    cross join as_of
    where p.programme in (select cp.programme from chronic_programmes as cp) and cast(d.diagnosed_at as date) <= as_of.as_of_date
    group by d.person_id, p.programme
),

patient_programmes as (
    select * from programme_members
    union all
    select
        person_id,
        'all_chronic' as programme,
        min(member_from) as member_from
    from programme_members
    group by person_id
),

windows as (
    select
        cast(w.window_days as integer) as window_days,
        cast(ceil(w.window_days / {{ var('followup_window_days') }}) as integer) as periods
    from {{ p360_values(var('adherence_windows_days'), 'w', 'window_days') }}
),

contacts as (
    select
        e.person_id,
        -- 0 = the period ending on the as-of date, 1 = the one before, ...
        {{ p360_int_div(p360_date_diff('day', 'e.event_date', 'as_of.as_of_date'), var('followup_window_days')) }} as period_index
    from {{ ref('int_patient__events') }} as e
    cross join as_of
    where
        e.event_date <= as_of.as_of_date
        and (e.event_type like 'visit_%' or e.event_type in ('consult_completed', 'lab_result'))
),

followup as (
    select
        pp.person_id,
        w.window_days,
        count(distinct c.period_index) = w.periods as completed
    from (select distinct person_id from patient_programmes) as pp
    cross join windows as w
    left join contacts as c on pp.person_id = c.person_id and w.periods > c.period_index
    group by pp.person_id, w.window_days, w.periods
)

select
    pp.programme,
    w.window_days,
    cast(count(*) as bigint) as chronic_patients,
    cast(count(pdc.pdc) as bigint) as patients_with_prescription,
    -- averaged from an exact decimal sum: a double sum depends on the order DuckDB's threads add rows in
    cast(avg(cast(pdc.pdc as decimal(38, 18))) as double) as mean_pdc,
    cast(count(*) filter (where pdc.pdc >= {{ var('adherence_pdc_threshold') }}) as bigint) as adherent_patients,
    cast(count(*) filter (where pdc.pdc >= {{ var('adherence_pdc_threshold') }}) / {{ p360_float("nullif(count(pdc.pdc), 0)") }} as double)
        as adherent_share,
    cast(count(*) filter (where pp.member_from <= as_of.as_of_date - w.window_days + 1) as bigint)
        as followup_eligible_patients,
    cast(count(*) filter (where f.completed and pp.member_from <= as_of.as_of_date - w.window_days + 1) as bigint)
        as followup_completed_patients,
    cast(
        count(*) filter (where f.completed and pp.member_from <= as_of.as_of_date - w.window_days + 1)
        / {{ p360_float("nullif(count(*) filter (where pp.member_from <= as_of.as_of_date - w.window_days + 1), 0)") }} as double
    ) as followup_completion_rate
from patient_programmes as pp
cross join windows as w
cross join as_of
left join {{ ref('int_kpi__patient_pdc') }} as pdc on pp.person_id = pdc.person_id and w.window_days = pdc.window_days
left join followup as f on pp.person_id = f.person_id and w.window_days = f.window_days
group by pp.programme, w.window_days
