-- One keyed pseudonym per person, computed once: patient_key = HMAC-SHA256 of the stable
-- person_id (p360_pseudonym UDF of the patient360 dbt plugin; the key never appears in SQL).
-- Retired persons keep their row (the published key map needs their keys). key_check is the
-- HMAC of a constant: when the secret key is rotated it changes, and every key is recomputed.
{{ config(
    materialized='incremental', unique_key='person_id', full_refresh=false,
    incremental_strategy=p360_registry_strategy()) }}
{% set key_check = "p360_pseudonym('patient360 key check')" %}
with persons as (
    select person_id from {{ ref('person_registry') }}
    union
    select retired_person_id as person_id from {{ ref('identity_merge_log') }}
)

select
    p.person_id,
    p360_pseudonym(concat('person_id:', cast(p.person_id as {{ dbt.type_string() }}))) as patient_key,
    {{ key_check }} as key_check
from persons as p
{% if is_incremental() %}
    where not exists (
        select 1 from {{ this }} as k where k.person_id = p.person_id and k.key_check = {{ key_check }}
    )
{% endif %}
