-- One row per patient_key with generalised quasi-identifiers only: 5-year age band
-- (90+ grouped), gender, city and province. Exact birth date, name and address stay
-- in staging/restricted; persons known only to CRM/consult get 'unknown'.
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

links as (
    select * from {{ ref('identity_links') }}
),

his_latest as (
    select links.patient_key, p.gender, p.birth_date, p.city, p.province, p.registered_at
    from {{ ref('stg_his__patients') }} as p
    inner join links on links.source = 'his' and links.source_record_id = p.mrn
    where p.is_latest_version
    qualify row_number() over (partition by links.patient_key order by p.updated_at desc, p.mrn) = 1
),

first_seen as (
    select links.patient_key, min(first_at) as first_seen_at
    from (
        select 'his' as source, mrn as record_id, min(registered_at) as first_at from {{ ref('stg_his__patients') }} group by all
        union all
        select 'crm', contact_id, min(created_at) from {{ ref('stg_crm__contacts') }} group by all
        union all
        select 'consult', platform_user_id, min(requested_at) from {{ ref('stg_consult__sessions') }} group by all
        union all
        select 'wearable', binding_id, min(bound_at) from {{ ref('stg_wearable__device_bindings') }} group by all
    ) as firsts
    inner join links on links.source = firsts.source and links.source_record_id = firsts.record_id
    group by links.patient_key
),

people as (
    select distinct patient_key from links
)

select
    people.patient_key,
    coalesce(h.gender, 'unknown') as gender,
    {{ age_years('h.birth_date', 'as_of.as_of_date') }} as age_years,
    {{ age_band(age_years('h.birth_date', 'as_of.as_of_date')) }} as age_band,
    coalesce(h.city, 'unknown') as city,
    coalesce(h.province, 'unknown') as province,
    cast(f.first_seen_at as date) as registered_date,
    h.patient_key is not null as has_medical_record
from people
cross join as_of
left join his_latest as h on h.patient_key = people.patient_key
left join first_seen as f on f.patient_key = people.patient_key
