with source as (
    select {{ local_times(['bound_at', 'unbound_at']) }} from {{ source('raw_wearable', 'device_bindings') }}
),

renamed as (
    select
        binding_id,
        device_serial,
        vendor,
        device_type,
        platform_user_id,
        {{ normalise_mobile('mobile') }} as mobile,
        bound_at,
        unbound_at,
        _file_path,
        _line_number,
        _loaded_at
    from source
)

-- re-exported with unbound_at when the device is re-bound: keep the latest state
{{ dedupe('renamed', ['binding_id'], 'unbound_at desc nulls last, _loaded_at desc, _line_number desc') }}
