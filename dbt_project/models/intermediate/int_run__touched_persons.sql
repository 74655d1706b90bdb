-- The persons this run rebuilds per-person state for (int_patient__event_log), one row per
-- person and reason (docs/incremental.md "Which persons a run rebuilds"):
--   identity        an identity run changed their records since the log's last build: new or
--                   changed records, both sides of a merge or split (identity_change_log,
--                   by sequence, so a change the log missed in an earlier run is applied now)
--   source_rows     an event of theirs has a row landed after the log's watermark; every
--                   person an earlier version of that event belonged to is touched too (a
--                   visit corrected to another MRN leaves one person and joins another)
--   <removal>       rows of an event source were removed since the watermark (a re-delivered
--                   file, erasure, retention): who they belonged to is gone with them, so
--                   every person is rebuilt (reason file_redelivered / rows_removed)
--   full_rebuild    no previous log to build on (first run, full refresh, Spark)
-- Every row carries what this list was computed against (loaded_through, identity_seq): the
-- log stamps the rows it writes with them, so a list older than the sources (a model run on
-- its own, a file landed in between) only ever makes the next run rebuild more.
-- Persons who were erased have no person_id any more: the log's post-hook drops their rows.
-- depends_on: {{ ref('identity_change_log') }}
-- depends_on: {{ ref('identity_links') }}
{%- for s in p360_person_event_sources() %}
-- depends_on: {{ source(s.source, s.table) }}
{%- endfor %}
{% set applied = p360_event_log_watermark(this) %}
{% set removal = p360_event_rows_removed_since(this, applied.loaded) if applied is not none else none %}

{% if applied is none or removal is not none %}
    with touched as (
        select
            person_id,
            '{{ removal or "full_rebuild" }}' as touched_because
        from {{ ref('person_keys') }}
    ),
{% else %}
    with identity as (
        select distinct person_id
        from {{ ref('identity_change_log') }}
        where change_seq > {{ applied.seq }}
    ),

    source_rows as (
        {%- for s in p360_person_event_sources() %}
            select links.person_id
            from {{ source(s.source, s.table) }} as r
            inner join {{ ref('identity_links') }} as links
                on r.{{ s.record }} = links.source_record_id and links.source = '{{ s.link }}'
            where r.{{ s.entity }} in (
                select changed.{{ s.entity }} from {{ source(s.source, s.table) }} as changed
                where changed._loaded_at > {{ applied.loaded }}
            )
            {{ 'union' if not loop.last }}
        {%- endfor %}
    ),

    touched as (
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
    ),
{% endif %}

stamps as (
    select
        {{ p360_event_sources_loaded_through() }} as loaded_through,
        (select coalesce(max(c.change_seq), 0) from {{ ref('identity_change_log') }} as c) as identity_seq
)

select
    touched.person_id,
    touched.touched_because,
    stamps.loaded_through,
    stamps.identity_seq
from touched
cross join stamps
