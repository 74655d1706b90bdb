with source as (
    select {{ local_times(['joined_at', 'left_at']) }} from {{ source('raw_crm', 'group_memberships') }}
),

renamed as (
    select
        membership_id,
        group_id,
        contact_id,
        joined_at,
        left_at,
        leave_reason,
        _file_path,
        _line_number,
        _loaded_at
    from source
)

-- a membership row is re-exported when the member leaves: keep the latest state
{{ dedupe('renamed', ['membership_id'], 'left_at desc nulls last, _loaded_at desc, _line_number desc') }}
