-- Glucose is converted to mmol/L whatever the vendor's unit.
-- Censored readings (a vendor's Low / High: below / above the sensor's range) keep the range
-- limit as their value and carry `censored`; means exclude them, they are counted apart.
-- Readings are de-duplicated on the instant (two readings at one displayed local time across
-- a clock change stay apart) and on the vendor's aggregation period (minute / hour / day steps).
with source as (
    select
        {{ local_times(['measured_at']) }},
        {{ reading_day() }} as reading_day,
        measured_at as measured_instant
    from {{ source('raw_wearable', 'readings') }}
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
        measured_instant,
        reading_day as measured_date,
        {{ p360_json_text('_extra', 'censored') }} as censored,
        coalesce({{ p360_json_text('_extra', 'period') }}, 'sample') as aggregation_period,
        _file_path,
        _line_number,
        _loaded_at
    from source
)

-- Deduplicated on (device_serial, metric, measured_at). measured_date is derived from
-- measured_at, so adding it to the key changes nothing but lets DuckDB apply a filter on
-- the day below the dedupe window: an incremental run reads only the days it rebuilds.
{{ dedupe(
    'renamed',
    ['device_serial', 'metric', 'measured_instant', 'aggregation_period', 'measured_date'],
    '_loaded_at desc, _line_number desc'
) }}
