-- Every person whose records an identity run changed, with a run sequence number: the persons
-- of the records resolved by the run (new or changed records) and the person each record had
-- before (both sides of merges and splits). Append-only and never reset by a full refresh.
-- The per-person event log applies these changes by sequence (int_run__touched_persons), so a
-- change is never lost when the registry committed and a later model of the run did not.
{{ config(materialized='incremental', full_refresh=false) }}
{#- the sequence number is read before the insert (a literal): no engine reads the table it appends to -#}
{% set next_seq = 1 %}
{% if execute and is_incremental() %}
    {% set next_seq = run_query('select coalesce(max(change_seq), 0) + 1 from ' ~ this).columns[0].values()[0] %}
{% endif %}
with changed as (
    select person_id from {{ ref('identity_assignment') }}
    union
    select previous_person_id as person_id
    from {{ ref('identity_assignment') }}
    where previous_person_id is not null
)

select
    cast(changed.person_id as bigint) as person_id,
    cast({{ next_seq }} as bigint) as change_seq,
    {{ p360_run_date() }} as changed_on
from changed
