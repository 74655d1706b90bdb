with source as (
    select {{ local_times(['requested_at', 'first_response_at', 'closed_at']) }} from {{ source('raw_consult', 'sessions') }}
),

renamed as (
    select
        session_id,
        platform_user_id,
        {{ normalise_mobile('mobile') }} as mobile,
        trim(real_name) as real_name,
        doctor_id,
        lower(specialty) as specialty,
        consult_type,
        urgency,
        chief_complaint,
        requested_at,
        cast(requested_at as date) as requested_date,
        first_response_at,
        closed_at,
        {{ p360_date_diff('second', "requested_at", "first_response_at") }} / {{ p360_float("60.0") }} as response_minutes,
        status as session_status,
        fee,
        rating,
        prescription_issued,
        offline_referral,
        _file_path,
        _line_number,
        _loaded_at
    from source
)

{{ dedupe('renamed', ['session_id'], '_loaded_at desc, _line_number desc') }}
