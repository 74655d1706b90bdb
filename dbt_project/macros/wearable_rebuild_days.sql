{#-
    The day filter of an incremental wearable run: days from `incremental_lookback_days`
    before the latest day stored in `this`, plus the days of readings landed in `raw`
    since the latest landing time stored in `this` (late arrivals of any age). Looked up
    when the model runs and rendered as date literals, so that DuckDB can apply the filter
    below the staging dedupe window (whose partition includes `day_col`). Reads only
    landing metadata (_loaded_at, measured_at, _local_date) of the raw table, which zone maps make cheap.
-#}
{% macro wearable_rebuild_days(this, raw, day_col) -%}
    {%- if execute -%}
        {%- set state = run_query(
            "select coalesce(max(" ~ day_col ~ "), date '1900-01-01') - interval "
            ~ var('incremental_lookback_days') ~ " day, "
            ~ "coalesce(max(last_loaded_at), timestamp '1900-01-01') from " ~ this
        ).rows[0] -%}
        {%- set late = run_query(
            "select distinct " ~ reading_day() ~ " from " ~ raw
            ~ " where _loaded_at > '" ~ state[1] ~ "' and " ~ reading_day() ~ " < '"
            ~ state[0].strftime('%Y-%m-%d') ~ "' order by 1"
        ).columns[0].values() -%}
        ({{ day_col }} >= date '{{ state[0].strftime('%Y-%m-%d') }}'
        {%- if late %}
            or {{ day_col }} in ({% for d in late %}date '{{ d }}'{{ ', ' if not loop.last }}{% endfor %})
        {%- endif %})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- The reporting day of a raw reading: its local date in its source's zone (landed as
    `_local_date`), else its date in the reporting zone. One home: staging uses it too. -#}
{% macro reading_day() -%}
    coalesce(_local_date, cast({{ local_time('measured_at') }} as date))
{%- endmacro %}
