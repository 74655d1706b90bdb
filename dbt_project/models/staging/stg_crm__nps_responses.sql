-- The free-text comment is a direct identifier risk (people type names and numbers):
-- it is kept here for the restricted zone only and never selected into marts.
with source as (
    select {{ local_times(['answered_at']) }} from {{ source('raw_crm', 'nps_responses') }}
),

renamed as (
    select
        response_id,
        contact_id,
        score as nps_score,
        comment as nps_comment,
        answered_at,
        cast(answered_at as date) as answered_date,
        _file_path,
        _line_number,
        _loaded_at
    from source
)

{{ dedupe('renamed', ['response_id'], '_loaded_at desc, _line_number desc') }}
