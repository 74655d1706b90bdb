with source as (
    select {{ local_times(['referred_at']) }} from {{ source('raw_crm', 'referrals') }}
),

renamed as (
    select
        referral_id,
        referrer_contact_id,
        referee_contact_id,
        referred_at,
        _file_path,
        _line_number,
        _loaded_at
    from source
)

{{ dedupe('renamed', ['referral_id'], '_loaded_at desc, _line_number desc') }}
