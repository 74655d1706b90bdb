-- Every identifier observed on every source record (all versions), long format.
-- Linking identifiers: id_number (checksum-verified), mobile (normalised),
-- wechat_unionid, platform_user_id. Attributes used only to break ties: name, birth_date.
-- birth_date is cast to varchar here because unpivot needs one value type for every column.
with his as (
    select
        'his' as source,
        mrn as source_record_id,
        id_number,
        mobile,
        null as wechat_unionid,
        null as platform_user_id,
        patient_name as person_name,
        cast(birth_date as {{ dbt.type_string() }}) as birth_date
    from {{ ref('stg_his__patients') }}
),

crm as (
    select
        'crm' as source,
        contact_id as source_record_id,
        null as id_number,
        mobile,
        wechat_unionid,
        null as platform_user_id,
        contact_name as person_name,
        cast(null as {{ dbt.type_string() }}) as birth_date
    from {{ ref('stg_crm__contacts') }}
),

consult as (
    select distinct
        'consult' as source,
        platform_user_id as source_record_id,
        null as id_number,
        mobile,
        null as wechat_unionid,
        platform_user_id,
        real_name as person_name,
        cast(null as {{ dbt.type_string() }}) as birth_date
    from {{ ref('stg_consult__sessions') }}
),

wearable as (
    select
        'wearable' as source,
        binding_id as source_record_id,
        null as id_number,
        mobile,
        null as wechat_unionid,
        platform_user_id,
        null as person_name,
        cast(null as {{ dbt.type_string() }}) as birth_date
    from {{ ref('stg_wearable__device_bindings') }}
),

records as (
    select * from his
    union all
    select * from crm
    union all
    select * from consult
    union all
    select * from wearable
)

select distinct
    source,
    source_record_id,
    identifier_type,
    identifier_value
from records
unpivot (
    identifier_value for identifier_type in (
        id_number, mobile, wechat_unionid, platform_user_id, person_name, birth_date
    )
)
where identifier_value is not null
