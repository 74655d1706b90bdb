with source as (
    select {{ local_times(['occurred_at']) }} from {{ source('raw_crm', 'message_events') }}
),

renamed as (
    select
        event_id,
        contact_id,
        campaign_id,
        event_type,
        occurred_at,
        cast(occurred_at as date) as occurred_date,
        _file_path,
        _line_number,
        _loaded_at
    from source
)

{{ dedupe('renamed', ['event_id'], '_loaded_at desc, _line_number desc') }}
