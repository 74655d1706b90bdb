-- Data coverage of person events: every staging row of the event sources counted once per
-- source x event day, attributed to a person or not. Attributed = the record's person
-- identifier resolves through identity_links, as in the keyed models that feed the marts
-- (int_*_keyed inner-join the same links, so an unattributed row is one the marts leave out):
--   consult_sessions   platform_user_id (an unknown or missing consult user)
--   his_*              mrn (a visit, prescription, diagnosis, lab result or payment whose MRN
--                      no patient record carries)
-- A table: these sources are small next to the wearable readings.
with links as (
    select
        source,
        source_record_id
    from {{ ref('identity_links') }}
),

events as (
    select
        'consult_sessions' as source,
        requested_date as event_date,
        platform_user_id as person_ref,
        'consult' as link_source
    from {{ ref('stg_consult__sessions') }}
    union all
    select
        'his_visits' as source,
        visit_date as event_date,
        mrn as person_ref,
        'his' as link_source
    from {{ ref('stg_his__visits') }}
    union all
    select
        'his_prescriptions' as source,
        prescribed_date as event_date,
        mrn as person_ref,
        'his' as link_source
    from {{ ref('stg_his__prescriptions') }}
    union all
    select
        'his_diagnoses' as source,
        cast(diagnosed_at as date) as event_date,
        mrn as person_ref,
        'his' as link_source
    from {{ ref('stg_his__diagnoses') }}
    union all
    select
        'his_lab_results' as source,
        collected_date as event_date,
        mrn as person_ref,
        'his' as link_source
    from {{ ref('stg_his__lab_results') }}
    union all
    select
        'his_payments' as source,
        paid_date as event_date,
        mrn as person_ref,
        'his' as link_source
    from {{ ref('stg_his__payments') }}
)

select
    events.source,
    events.event_date,
    links.source_record_id is not null as is_attributed,
    count(*) as record_count
from events
left join links on events.person_ref = links.source_record_id and events.link_source = links.source
group by events.source, events.event_date, links.source_record_id is not null
