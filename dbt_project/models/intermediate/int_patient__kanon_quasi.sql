-- k-anonymity before publishing: every (age_band, gender, city) combination in
-- patient_360 must hold at least k people (var k_anonymity, default 5; business_rules.md
-- "Privacy"). Small groups are generalised step by step: city -> province, then
-- age band -> 20-year band, then suppressed ('suppressed').
{% set k = var('k_anonymity') %}
with demo as (
    select
        patient_key,
        age_band,
        gender,
        city,
        province
    from {{ ref('int_patient__demographics') }}
),

step1 as (
    select
        *,
        count(*) over (partition by age_band, gender, city) >= {{ k }} as city_ok
    from demo
),

step2 as (
    select
        patient_key,
        age_band,
        gender,
        province,
        case when city_ok then city else province end as city_g
    from step1
),

step3 as (
    select
        *,
        count(*) over (partition by age_band, gender, city_g) >= {{ k }} as ok2
    from step2
),

step4 as (
    select
        patient_key,
        gender,
        city_g as city,
        province,
        case
            when ok2 then age_band
            when age_band in ('unknown', '90+') then age_band
            else
                lpad(cast((cast(split_part(age_band, '-', 1) as integer) // 20) * 20 as varchar), 2, '0')
                || '-' || lpad(cast((cast(split_part(age_band, '-', 1) as integer) // 20) * 20 + 19 as varchar), 2, '0')
        end as age_band
    from step3
),

step5 as (
    select
        *,
        count(*) over (partition by age_band, gender, city) >= {{ k }} as ok3
    from step4
)

select
    patient_key,
    case when ok3 then age_band else 'suppressed' end as age_band,
    case when ok3 then gender else 'suppressed' end as gender,
    case when ok3 then city else 'suppressed' end as city,
    case when ok3 then province else 'suppressed' end as province
from step5
