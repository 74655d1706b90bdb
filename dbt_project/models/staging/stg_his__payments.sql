with source as (
    select {{ local_times(['paid_at']) }} from {{ source('raw_his', 'payments') }}
),

renamed as (
    select
        payment_id,
        mrn,
        visit_id,
        amount,
        method as payment_method,
        paid_at,
        cast(paid_at as date) as paid_date,
        _file_path,
        _line_number,
        _loaded_at
    from source
)

{{ dedupe('renamed', ['payment_id'], '_loaded_at desc, _line_number desc') }}
