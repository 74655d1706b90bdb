-- The persons this run rebuilds per-person state for (int_patient__event_log), one row per
-- person and reason (docs/incremental.md "Which persons a run rebuilds"):
--   identity        a record of theirs was resolved by this run: new or changed records, both
--                   sides of a merge, both sides of a split (identity_assignment: its person
--                   and the person it had before)
--   source_rows     an event of theirs has a row landed after the log's watermark; every
--                   person an earlier version of that event belonged to is touched too (a
--                   visit corrected to another MRN leaves one person and joins another)
--   <removal>       rows of an event source were removed since the watermark (a re-delivered
--                   file, erasure, retention): who they belonged to is gone with them, so
--                   every person is rebuilt (reason file_redelivered / rows_removed)
--   full_rebuild    no previous log to build on (first run, full refresh, Spark)
-- Persons who were erased have no person_id any more: the log's post-hook drops their rows.
-- depends_on: {{ ref('identity_assignment') }}
-- depends_on: {{ ref('identity_links') }}
{%- for s in p360_person_event_sources() %}
-- depends_on: {{ source(s.source, s.table) }}
{%- endfor %}
{% set watermark = p360_event_log_watermark(this) %}
{% set removal = p360_event_rows_removed_since(this, watermark) if watermark is not none else none %}

{% if watermark is none or removal is not none %}
    select
        person_id,
        '{{ removal or "full_rebuild" }}' as touched_because
    from {{ ref('person_keys') }}
{% else %}
    with identity as (
        select person_id from {{ ref('identity_assignment') }}
        union
        select previous_person_id as person_id
        from {{ ref('identity_assignment') }}
        where previous_person_id is not null
    ),

    source_rows as (
        {%- for s in p360_person_event_sources() %}
            select links.person_id
            from {{ source(s.source, s.table) }} as r
            inner join {{ ref('identity_links') }} as links
                on r.{{ s.record }} = links.source_record_id and links.source = '{{ s.link }}'
            where r.{{ s.entity }} in (
                select changed.{{ s.entity }} from {{ source(s.source, s.table) }} as changed
                where changed._loaded_at > {{ watermark }}
            )
            {{ 'union' if not loop.last }}
        {%- endfor %}
    )

    select
        person_id,
        'identity' as touched_because
    from identity
    union all
    select
        person_id,
        'source_rows' as touched_because
    from source_rows
    where person_id not in (select i.person_id from identity as i)
{% endif %}
