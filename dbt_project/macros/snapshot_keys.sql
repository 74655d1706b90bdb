{#-
    Post-hook of the segment snapshots (incremental, one snapshot per as_of_date): rows of
    earlier snapshots that carry the patient_key of a person retired by an identity merge are
    rewritten to the key of the person it lives on in now (restricted.person_survivors: merge
    chains already followed), so no snapshot points at a retired key and BI follows a person
    through its history under one key.

    Two rows of one snapshot can map to the same surviving person (both persons were in it):
    the row of the oldest person is kept (the smallest person_id: the survivor's own row when
    it has one, a merge keeps the older id) and the others are deleted, so a snapshot still
    holds one row per person and snapshot grain. The grain is as_of_date, or the model's
    meta.snapshot_grain (seg_disease_programme: one row per person and programme).

    Only rows holding a retired key are touched. Splits retire nobody (the split-off person
    starts with a new key; its history stays with the person it left), so they need nothing.
-#}
{% macro remap_retired_keys() %}{{ return(adapter.dispatch('remap_retired_keys', 'patient360')()) }}{% endmacro %}

{#- Spark (plain Parquet) has no DELETE or UPDATE: earlier snapshots keep retired keys there until
    the tables are Delta or Iceberg (docs/scale.md). The first build has no earlier snapshot. -#}
{% macro spark__remap_retired_keys() %}{{ return('') }}{% endmacro %}

{% macro default__remap_retired_keys() %}
    {%- if model.config.materialized == 'incremental' -%}
        {%- set grain = (model.config.meta or {}).get('snapshot_grain', ['as_of_date']) -%}
        {%- set key_map -%}
            (
                select
                    retired.patient_key as retired_key,
                    retired.person_id as retired_person_id,
                    surviving.patient_key as surviving_key
                from {{ ref('person_survivors') }} as s
                inner join {{ ref('person_keys') }} as retired on s.retired_person_id = retired.person_id
                inner join {{ ref('person_keys') }} as surviving on s.surviving_person_id = surviving.person_id
            )
        {%- endset -%}
        delete from {{ this }}
        where rowid in (
            select ranked.row_id
            from (
                select
                    snap.rowid as row_id,
                    exists (
                        select 1
                        from {{ this }} as own
                        where own.patient_key = m.surviving_key
                            {%- for col in grain %} and own.{{ col }} = snap.{{ col }}{% endfor %}
                    ) as survivor_has_row,
                    row_number() over (
                        partition by m.surviving_key{% for col in grain %}, snap.{{ col }}{% endfor %}
                        order by m.retired_person_id
                    ) as nth
                from {{ this }} as snap
                inner join {{ key_map }} as m on snap.patient_key = m.retired_key
            ) as ranked
            where ranked.survivor_has_row or ranked.nth > 1
        );
        update {{ this }} as snap
        set patient_key = m.surviving_key
        from {{ key_map }} as m
        where snap.patient_key = m.retired_key
    {%- endif -%}
{% endmacro %}
