-- One row per person (joined on the integer person_id; patient_key attached at the end)
-- with generalised quasi-identifiers only: 5-year age band (90+ grouped), gender, city and
-- province. Exact birth date, name and address stay in staging/restricted; persons known only
-- to CRM/consult get 'unknown'. Point-in-time: the HIS record version in force at the as-of
-- date (updated on or before it), and only people some source had seen by the as-of date
-- (nobody registered later).
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

his_latest as (
    select
        p.person_id,
        p.gender,
        p.birth_date,
        p.city,
        p.province,
        p.registered_at
    from {{ ref('int_his__patients_keyed') }} as p
    cross join as_of
    where cast(p.updated_at as date) <= as_of.as_of_date and cast(p.registered_at as date) <= as_of.as_of_date
    qualify row_number() over (partition by p.person_id order by p.updated_at desc, p.mrn asc) = 1
),

-- first day each source saw the person: HIS registration, CRM contact, consult request,
-- device binding (every record version counts)
first_seen as (
    select
        person_id,
        min(first_at) as first_seen_at
    from (
        select
            person_id,
            registered_at as first_at
        from {{ ref('int_his__patients_keyed') }}
        union all
        select
            person_id,
            created_at
        from {{ ref('int_crm__contacts_keyed') }}
        union all
        select
            person_id,
            requested_at
        from {{ ref('int_consult__sessions_keyed') }}
        union all
        select
            person_id,
            bound_at
        from {{ ref('int_wearable__bindings_keyed') }}
    ) as firsts
    group by person_id
),

-- everybody identity resolution knows, from any source, first seen by the as-of date
people as (
    select distinct links.person_id
    from {{ ref('identity_links') }} as links
    inner join first_seen as f on links.person_id = f.person_id
    cross join as_of
    where cast(f.first_seen_at as date) <= as_of.as_of_date
)

select
    people.person_id,
    k.patient_key,
    coalesce(h.gender, 'unknown') as gender,
    {{ age_years('h.birth_date', 'as_of.as_of_date') }} as age_years,
    {{ age_band(age_years('h.birth_date', 'as_of.as_of_date')) }} as age_band,
    coalesce(h.city, 'unknown') as city,
    coalesce(h.province, 'unknown') as province,
    cast(f.first_seen_at as date) as registered_date,
    h.person_id is not null as has_medical_record
from people
cross join as_of
left join his_latest as h on people.person_id = h.person_id
left join first_seen as f on people.person_id = f.person_id
inner join {{ ref('person_keys') }} as k on people.person_id = k.person_id
