with source as (
    select * from {{ source('raw_crm', 'campaign_stats') }}
),

renamed as (
    select
        campaign_id,
        stat_date,
        impressions,
        clicks,
        consult_requests,
        appointments,
        spend,
        _file_path,
        _line_number,
        _loaded_at
    from source
)

{{ dedupe('renamed', ['campaign_id', 'stat_date'], '_loaded_at desc, _line_number desc') }}
