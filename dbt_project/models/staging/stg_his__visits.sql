with source as (
    select {{ local_times(['started_at', 'ended_at']) }} from {{ source('raw_his', 'visits') }}
),

renamed as (
    select
        visit_id,
        mrn,
        visit_type,
        department,
        lower(specialty) as specialty,
        doctor_id,
        started_at,
        ended_at,
        cast(started_at as date) as visit_date,
        charge_amount,
        _file_path,
        _line_number,
        _loaded_at
    from source
)

{{ dedupe('renamed', ['visit_id'], '_loaded_at desc, _line_number desc') }}
