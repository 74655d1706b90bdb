with source as (
    select {{ local_times(['occurred_at']) }} from {{ source('raw_crm', 'points_ledger') }}
),

renamed as (
    select
        entry_id,
        contact_id,
        event_type,
        points,
        occurred_at,
        cast(occurred_at as date) as occurred_date,
        _file_path,
        _line_number,
        _loaded_at
    from source
)

{{ dedupe('renamed', ['entry_id'], '_loaded_at desc, _line_number desc') }}
