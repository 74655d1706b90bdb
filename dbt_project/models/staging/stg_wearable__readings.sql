-- Glucose is converted to mmol/L whatever the vendor's unit.
with source as (
    select * from {{ source('raw_wearable', 'readings') }}
),

renamed as (
    select
        device_serial,
        vendor,
        metric,
        case when metric = 'glucose' then {{ glucose_to_mmol('value', 'unit') }} else value end as reading_value,
        case when metric = 'glucose' then 'mmol/L' else unit end as reading_unit,
        value as source_value,
        unit as source_unit,
        measured_at,
        cast(measured_at as date) as measured_date,
        _file_path,
        _line_number,
        _loaded_at
    from source
)

-- Deduplicated on (device_serial, metric, measured_at). measured_date is derived from
-- measured_at, so adding it to the key changes nothing but lets DuckDB apply a filter on
-- the day below the dedupe window: an incremental run reads only the days it rebuilds.
{{ dedupe('renamed', ['device_serial', 'metric', 'measured_at', 'measured_date'], '_loaded_at desc, _line_number desc') }}
