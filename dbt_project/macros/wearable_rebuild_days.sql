{#-
    The day filter of an incremental wearable run: days from `incremental_lookback_days`
    before the latest day stored in `this`, plus
      * the days of readings landed in `raw` since the latest landing time stored in `this`
        (late-arriving files of any age), and
      * the days of the readings of every device whose binding landed since then, from the
        instant its attribution may change on (rebound_devices), however old: a binding landed
        a day after its device's readings re-attributes them, a re-export closing a binding
        (unbound_at) un-attributes the readings after it.
    Looked up when the model runs and rendered as date literals, so that DuckDB can apply the
    filter below the staging dedupe window (whose partition includes `day_col`). Reads only
    landing metadata of the raw readings (_loaded_at, measured_at, _local_date, and
    device_serial when a binding is new), which zone maps make cheap.
    The latest landing time stored in `this` can only lag the true one (readings without a
    binding are not stored in every model), which rebuilds more days, never fewer.
-#}
{% macro wearable_rebuild_days(this, raw, day_col, raw_bindings) -%}
    {%- if execute -%}
        {%- set state = run_query(
            "select coalesce(max(" ~ day_col ~ "), date '1900-01-01') - interval "
            ~ var('incremental_lookback_days') ~ " day, "
            ~ "coalesce(max(last_loaded_at), timestamp '1900-01-01') from " ~ this
        ).rows[0] -%}
        {%- set cutoff = state[0].strftime('%Y-%m-%d') -%}
        {%- set late = run_query(
            "select distinct " ~ reading_day() ~ " from " ~ raw
            ~ " where _loaded_at > '" ~ state[1] ~ "' and " ~ reading_day() ~ " < '" ~ cutoff ~ "'"
            ~ " union select distinct " ~ reading_day() ~ " from " ~ raw ~ " as r inner join ("
            ~ rebound_devices(raw_bindings, state[1]) ~ ") as b on r.device_serial = b.device_serial"
            ~ " and r.measured_at >= b.since where " ~ reading_day() ~ " < '" ~ cutoff ~ "' order by 1"
        ).columns[0].values() -%}
        ({{ day_col }} >= date '{{ cutoff }}'
        {%- if late %}
            or {{ day_col }} in ({% for d in late %}date '{{ d }}'{{ ', ' if not loop.last }}{% endfor %})
        {%- endif %})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- Devices whose attribution may have changed since `loaded_after`, each with the instant
    from which its readings may be attributed differently: for every binding with a version
    landed since then (all its versions, old and new, are looked at)
      * whose versions agree on device and bound_at (a re-export closing or changing the
        binding): the earliest unbound_at of its versions; none at all: a plain re-send,
        nothing changes;
      * otherwise (a new binding, a corrected device or bound_at): the bound_at of each
        version, on each version's device. -#}
{% macro rebound_devices(raw_bindings, loaded_after) -%}
    with versions as (
        select binding_id, device_serial, bound_at, unbound_at, _loaded_at > '{{ loaded_after }}' as is_new
        from {{ raw_bindings }}
        where binding_id in (select binding_id from {{ raw_bindings }} where _loaded_at > '{{ loaded_after }}')
    ),
    closed_only as (
        select binding_id
        from versions
        group by binding_id
        having count(distinct (device_serial, bound_at)) = 1 and bool_or(not is_new)
    )
    select device_serial,
        min(case when binding_id in (select binding_id from closed_only) then unbound_at else bound_at end) as since
    from versions
    group by device_serial
{%- endmacro %}

{#- The reporting day of a raw reading: its local date in its source's zone (landed as
    `_local_date`), else its date in the reporting zone. One home: staging uses it too. -#}
{% macro reading_day() -%}
    coalesce(_local_date, cast({{ local_time('measured_at') }} as date))
{%- endmacro %}
