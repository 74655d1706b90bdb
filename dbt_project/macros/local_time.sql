{#- Raw timestamps are UTC instants (TIMESTAMPTZ; the landing reads each source's local
    times in its declared zone). Models work in the reporting zone's local wall-clock time
    (TIMESTAMP): staging converts each instant once, with these macros. -#}
{% macro reporting_time_zone() %}{{ return(var('reporting_time_zone', 'Asia/Shanghai')) }}{% endmacro %}

{% macro local_time(column) %}{{ return(adapter.dispatch('local_time', 'patient360')(column)) }}{% endmacro %}

{% macro default__local_time(column) %}timezone('{{ reporting_time_zone() }}', {{ column }}){% endmacro %}

{#- Spark: an instant (TIMESTAMP) to the wall clock of the zone (TIMESTAMP_NTZ), whatever the session zone -#}
{% macro spark__local_time(column) %}convert_timezone('{{ reporting_time_zone() }}', {{ column }}){% endmacro %}

{#- `select {{ local_times(['a_at', 'b_at']) }} from ...`: every column, those as local times -#}
{% macro local_times(columns) %}{{ return(adapter.dispatch('local_times', 'patient360')(columns)) }}{% endmacro %}

{% macro default__local_times(columns) -%}
    * replace ({% for c in columns %}{{ local_time(c) }} as {{ c }}{{ ", " if not loop.last }}{% endfor %})
{%- endmacro %}

{#- Spark has no `* replace`: the converted columns move to the end (models select them by name) -#}
{% macro spark__local_times(columns) -%}
    * except ({{ columns | join(', ') }}),
    {% for c in columns %}{{ local_time(c) }} as {{ c }}{{ ", " if not loop.last }}{% endfor %}
{%- endmacro %}
