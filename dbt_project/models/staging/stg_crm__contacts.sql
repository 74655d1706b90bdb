-- CRM contacts: every exported version (consent can be withdrawn later), exact
-- re-deliveries removed; is_latest_version marks the current state.
with source as (
    select {{ local_times(['created_at', 'consent_at', 'consent_withdrawn_at', 'updated_at']) }} from {{ source('raw_crm', 'contacts') }}
),

renamed as (
    select
        contact_id,
        {{ normalise_mobile('mobile') }} as mobile,
        trim(name) as contact_name,
        nullif(trim(wechat_openid), '') as wechat_openid,
        nullif(trim(wechat_unionid), '') as wechat_unionid,
        source_channel,
        campaign_id,
        created_at,
        marketing_consent,
        consent_at,
        consent_withdrawn_at,
        updated_at,
        _file_path,
        _line_number,
        _loaded_at
    from source
),

versions as (
    select * from renamed
    qualify row_number() over (partition by contact_id, updated_at order by _loaded_at desc, _line_number desc) = 1
)

select
    *,
    row_number() over (partition by contact_id order by updated_at desc, _loaded_at desc) = 1 as is_latest_version
from versions
