{#-
    Change-driven per-person state (docs/incremental.md "Which persons a run rebuilds").

    p360_person_event_sources: the raw tables whose rows become per-person events in
    int_patient__event_log, each with the key its staging model de-duplicates on (a row's
    entity), the column naming its source record and the identity_links source that record
    belongs to. One home: the touched-persons model and the event log's watermark read it.
-#}
{% macro p360_person_event_sources() %}
    {{ return([
        {'source': 'raw_his', 'table': 'visits', 'entity': 'visit_id', 'record': 'mrn', 'link': 'his'},
        {'source': 'raw_his', 'table': 'prescriptions', 'entity': 'prescription_id', 'record': 'mrn', 'link': 'his'},
        {'source': 'raw_his', 'table': 'payments', 'entity': 'payment_id', 'record': 'mrn', 'link': 'his'},
        {'source': 'raw_his', 'table': 'lab_results', 'entity': 'lab_result_id', 'record': 'mrn', 'link': 'his'},
        {'source': 'raw_consult', 'table': 'sessions', 'entity': 'session_id', 'record': 'platform_user_id', 'link': 'consult'},
        {'source': 'raw_crm', 'table': 'points_ledger', 'entity': 'entry_id', 'record': 'contact_id', 'link': 'crm'},
        {'source': 'raw_crm', 'table': 'message_events', 'entity': 'event_id', 'record': 'contact_id', 'link': 'crm'},
        {'source': 'raw_crm', 'table': 'nps_responses', 'entity': 'response_id', 'record': 'contact_id', 'link': 'crm'},
    ]) }}
{% endmacro %}

{#- The newest _loaded_at over the event sources: the watermark a build of the event log has
    seen. Every row it writes carries it (_loaded_through); the next run's touched persons are
    found from rows landed after the largest stored one. -#}
{% macro p360_event_sources_loaded_through() -%}
    (select max(t.loaded_at) from (
    {%- for s in p360_person_event_sources() %}
        select max(_loaded_at) as loaded_at from {{ source(s.source, s.table) }}{{ ' union all' if not loop.last }}
    {%- endfor %}
    ) as t)
{%- endmacro %}

{#- What the event log applied in its previous build, or none when every person has to be
    rebuilt: no previous build, a full refresh, an engine that rebuilds the table whole (Spark:
    p360_row_incremental), or an empty log. A dict: `loaded` (a SQL timestamp literal: the
    newest _loaded_at the build had seen) and `seq` (the last identity_change_log sequence it
    applied). Read without ref(): the log is built after the model that reads this. -#}
{% macro p360_event_log_watermark(base) %}
    {%- if not execute or flags.FULL_REFRESH or p360_row_incremental() != 'incremental' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set rel = adapter.get_relation(database=base.database, schema=base.schema, identifier='int_patient__event_log') -%}
    {%- if rel is none -%}{{ return(none) }}{%- endif -%}
    {%- set row = run_query(
        'select cast(max(_loaded_through) as varchar), coalesce(max(_identity_seq), 0) from ' ~ rel
    ).rows[0] -%}
    {%- if row[0] is none -%}{{ return(none) }}{%- endif -%}
    {{ return({'loaded': "cast('" ~ row[0] ~ "' as timestamp)", 'seq': row[1] | int}) }}
{% endmacro %}

{#- Rows removed from an event source since the watermark (a re-delivered file replaced its
    earlier version; erasure or retention deleted rows, audit.rows_removed): the removed rows
    are gone, so who they belonged to is unknown and every person is rebuilt. Returns the
    reason, or none. -#}
{% macro p360_event_rows_removed_since(base, watermark) %}
    {%- set tables = [] -%}
    {%- for s in p360_person_event_sources() -%}{%- do tables.append(s.table) -%}{%- endfor -%}
    {%- set in_list = "('" ~ tables | join("', '") ~ "')" -%}
    {%- set loads = adapter.get_relation(database=base.database, schema='audit', identifier='file_loads') -%}
    {%- if loads is not none -%}
        {%- set n = run_query(
            "select count(*) from " ~ loads ~ " where file_version > 1 and table_name in " ~ in_list
            ~ " and status in ('landed', 'landed_with_quarantine', 'empty') and started_at > " ~ watermark
        ).columns[0].values()[0] -%}
        {%- if n > 0 -%}{{ return('file_redelivered') }}{%- endif -%}
    {%- endif -%}
    {%- set removed = adapter.get_relation(database=base.database, schema='audit', identifier='rows_removed') -%}
    {%- if removed is not none -%}
        {%- set n = run_query(
            "select count(*) from " ~ removed ~ " where split_part(raw_table, '.', 2) in " ~ in_list
            ~ " and removed_on >= cast(" ~ watermark ~ " as date)"
        ).columns[0].values()[0] -%}
        {%- if n > 0 -%}{{ return('rows_removed') }}{%- endif -%}
    {%- endif -%}
    {{ return(none) }}
{% endmacro %}
