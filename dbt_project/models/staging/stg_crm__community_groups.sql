with source as (
    select {{ local_times(['created_at']) }} from {{ source('raw_crm', 'community_groups') }}
),

renamed as (
    select
        group_id,
        group_name,
        disease_type,
        stage as group_stage,
        created_at,
        _file_path,
        _line_number,
        _loaded_at
    from source
)

{{ dedupe('renamed', ['group_id'], '_loaded_at desc, _line_number desc') }}
