-- HIS patient master: every exported version of a patient, exact re-deliveries removed.
-- is_latest_version marks the current state; identity resolution uses all versions
-- (a patient who changed mobile is still linked through the old one).
with source as (
    select {{ local_times(['registered_at', 'updated_at']) }} from {{ source('raw_his', 'patients') }}
),

renamed as (
    select
        mrn,
        trim(name) as patient_name,
        gender,
        birth_date,
        {{ normalise_id_number('id_number') }} as id_number,
        id_number is not null and {{ normalise_id_number('id_number') }} is null as id_number_invalid,
        {{ normalise_mobile('mobile') }} as mobile,
        trim(address) as address,
        trim(city) as city,
        trim(province) as province,
        registered_at,
        insurance_type,
        updated_at,
        _file_path,
        _line_number,
        _loaded_at
    from source
),

versions as (
    select * from renamed
    qualify row_number() over (partition by mrn, updated_at order by _loaded_at desc, _line_number desc) = 1
)

select
    *,
    row_number() over (partition by mrn order by updated_at desc, _loaded_at desc) = 1 as is_latest_version
from versions
