-- Every control measurement of every person, one row per person x day x measure:
-- HbA1c (lab), blood pressure (clinic SBP/DBP of the day, or the home device's daily
-- means) and home glucose (abnormal-day flag only). is_abnormal: the device's daily
-- abnormal flag (int_wearable__daily thresholds); null for lab results.
with labs as (
    select
        person_id,
        collected_date,
        test_code,
        result_value
    from {{ ref('int_his__lab_results_keyed') }}
    where test_code in ('HBA1C', 'SBP', 'DBP')
),

hba1c as (
    select
        person_id,
        collected_date as measured_date,
        'hba1c' as measure,
        'lab' as measure_source,
        avg(result_value) as hba1c_pct,
        null::double as sbp,
        null::double as dbp,
        null::boolean as is_abnormal
    from labs
    where test_code = 'HBA1C'
    group by all
),

clinic_bp as (
    select
        person_id,
        collected_date as measured_date,
        'bp' as measure,
        'lab' as measure_source,
        null::double as hba1c_pct,
        avg(result_value) filter (where test_code = 'SBP') as sbp,
        avg(result_value) filter (where test_code = 'DBP') as dbp,
        null::boolean as is_abnormal
    from labs
    where test_code in ('SBP', 'DBP')
    group by all
    having count(*) filter (where test_code = 'SBP') > 0 and count(*) filter (where test_code = 'DBP') > 0
),

-- per person (a person may have two devices of one metric): mean of the daily means
device as (
    select
        person_id,
        measured_date,
        metric,
        avg(avg_value) as avg_value,
        bool_or(is_abnormal) as is_abnormal
    from {{ ref('int_wearable__daily_keyed') }}
    where metric in ('systolic', 'diastolic', 'glucose')
    group by all
),

home_bp as (
    select
        person_id,
        measured_date,
        'bp' as measure,
        'device' as measure_source,
        null::double as hba1c_pct,
        max(avg_value) filter (where metric = 'systolic') as sbp,
        max(avg_value) filter (where metric = 'diastolic') as dbp,
        bool_or(is_abnormal) as is_abnormal
    from device
    where metric in ('systolic', 'diastolic')
    group by all
    having count(*) filter (where metric = 'systolic') > 0 and count(*) filter (where metric = 'diastolic') > 0
),

home_glucose as (
    select
        person_id,
        measured_date,
        'glucose' as measure,
        'device' as measure_source,
        null::double as hba1c_pct,
        null::double as sbp,
        null::double as dbp,
        is_abnormal
    from device
    where metric = 'glucose'
)

select * from hba1c
union all
select * from clinic_bp
union all
select * from home_bp
union all
select * from home_glucose
