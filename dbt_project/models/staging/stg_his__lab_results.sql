with source as (
    select {{ local_times(['collected_at']) }} from {{ source('raw_his', 'lab_results') }}
),

renamed as (
    select
        lab_result_id,
        mrn,
        visit_id,
        test_code,
        value as result_value,
        unit,
        collected_at,
        cast(collected_at as date) as collected_date,
        _file_path,
        _line_number,
        _loaded_at
    from source
)

{{ dedupe('renamed', ['lab_result_id'], '_loaded_at desc, _line_number desc') }}
