{#-
    What an incremental run of fct_wearable_daily rebuilds, as a predicate on patient_key and
    measured_date: every day from incremental_lookback_days before the latest day stored, plus
    the whole history of every person whose stored history before that day no longer matches
    int_wearable__daily_keyed (rows or readings differ: a late binding, a closed binding, late
    readings older than the window, an identity merge). The model selects this scope from its
    source and its pre-hook deletes the same scope from the table first, so rows that are no
    longer in the source (readings that lost their attribution) go too; rendered once per use
    as literals, so both see the state before the run. Over `max_stale` stale persons (a key
    rotation) the scope is everything.
-#}
{% macro wearable_fact_scope(this, keyed, max_stale=20000) -%}
    {%- if execute -%}
        {%- set cutoff = run_query(
            "select strftime(coalesce(max(measured_date), date '1900-01-01') - interval "
            ~ var('incremental_lookback_days') ~ " day, '%Y-%m-%d') from " ~ this
        ).columns[0].values()[0] -%}
        {%- set stale = run_query(
            "with source_history as (select patient_key, count(distinct (measured_date, metric)) as n_rows, "
            ~ "sum(reading_count) as n_readings from "
            ~ keyed ~ " where measured_date < date '" ~ cutoff ~ "' group by patient_key), "
            ~ "stored_history as (select patient_key, count(*) as n_rows, sum(reading_count) as n_readings from "
            ~ this ~ " where measured_date < date '" ~ cutoff ~ "' group by patient_key) "
            ~ "select coalesce(s.patient_key, t.patient_key) from source_history as s "
            ~ "full outer join stored_history as t on t.patient_key = s.patient_key "
            ~ "where s.n_rows is distinct from t.n_rows or s.n_readings is distinct from t.n_readings order by 1"
        ).columns[0].values() -%}
        {%- if stale | length > max_stale -%}
            true
        {%- else -%}
            (measured_date >= date '{{ cutoff }}'
            {%- if stale %}
                or patient_key in ({% for k in stale %}'{{ k }}'{{ ', ' if not loop.last }}{% endfor %})
            {%- endif %})
        {%- endif -%}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
