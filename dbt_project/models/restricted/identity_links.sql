-- source record -> patient_key. The HMAC runs in Python (p360_pseudonym UDF from the
-- patient360 dbt plugin); the key is never part of this SQL.
select
    source,
    source_record_id,
    p360_pseudonym(best_identifier) as patient_key,
    identifier_basis
from {{ ref('identity_clusters') }}
