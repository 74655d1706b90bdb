with source as (
    select {{ local_times(['prescribed_at']) }} from {{ source('raw_his', 'prescriptions') }}
),

renamed as (
    select
        prescription_id,
        visit_id,
        mrn,
        drug_code,
        drug_name,
        quantity,
        days_supplied,
        amount,
        prescribed_at,
        cast(prescribed_at as date) as prescribed_date,
        _file_path,
        _line_number,
        _loaded_at
    from source
)

{{ dedupe('renamed', ['prescription_id'], '_loaded_at desc, _line_number desc') }}
