with source as (
    select {{ local_times(['diagnosed_at']) }} from {{ source('raw_his', 'diagnoses') }}
),

renamed as (
    select
        diagnosis_id,
        visit_id,
        mrn,
        upper(trim(icd10_code)) as icd10_code,
        substr(upper(trim(icd10_code)), 1, 3) as icd10_category,
        is_primary,
        diagnosed_at,
        _file_path,
        _line_number,
        _loaded_at
    from source
)

{{ dedupe('renamed', ['diagnosis_id'], '_loaded_at desc, _line_number desc') }}
