with source as (
    select * from {{ source('raw_crm', 'campaigns') }}
),

renamed as (
    select
        campaign_id,
        campaign_name,
        channel,
        lower(specialty) as specialty,
        start_date,
        end_date,
        budget,
        _file_path,
        _line_number,
        _loaded_at
    from source
)

{{ dedupe('renamed', ['campaign_id'], '_loaded_at desc, _line_number desc') }}
