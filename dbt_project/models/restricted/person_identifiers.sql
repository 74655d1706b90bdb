-- Every direct identifier known for each patient_key. Restricted: it exists so the
-- PII gate can look for leaked names, serials and plain (unkeyed) hashes in marts.
with observed as (
    select
        links.patient_key,
        obs.identifier_type,
        obs.identifier_value
    from {{ ref('identity_observations') }} as obs
    inner join {{ ref('identity_links') }} as links
        on obs.source = links.source and obs.source_record_id = links.source_record_id
),

record_ids as (
    select
        patient_key,
        case source
            when 'his' then 'mrn' when 'crm' then 'crm_contact_id'
            when 'consult' then 'platform_user_id' else 'wearable_binding_id'
        end as identifier_type,
        source_record_id as identifier_value
    from {{ ref('identity_links') }}
),

devices as (
    select
        links.patient_key,
        'device_serial' as identifier_type,
        b.device_serial as identifier_value
    from {{ ref('stg_wearable__device_bindings') }} as b
    inner join {{ ref('identity_links') }} as links
        on links.source = 'wearable' and b.binding_id = links.source_record_id
),

his_extra as (
    select
        links.patient_key,
        'address' as identifier_type,
        p.address as identifier_value
    from {{ ref('stg_his__patients') }} as p
    inner join {{ ref('identity_links') }} as links on links.source = 'his' and p.mrn = links.source_record_id
    where p.address is not null
),

crm_extra as (
    select
        links.patient_key,
        'wechat_openid' as identifier_type,
        c.wechat_openid as identifier_value
    from {{ ref('stg_crm__contacts') }} as c
    inner join {{ ref('identity_links') }} as links on links.source = 'crm' and c.contact_id = links.source_record_id
    where c.wechat_openid is not null
)

select distinct * from (
    select * from observed
    union all
    select * from record_ids
    union all
    select * from devices
    union all
    select * from his_extra
    union all
    select * from crm_extra
) as identifiers
