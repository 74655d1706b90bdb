{#-
  Engine differences of the identity models, behind adapter.dispatch (DuckDB default; a
  Spark implementation sits next to it so the same models build with dbt-spark).
-#}

{#- Sorted, comma-joined list of a string expression within a group (record fingerprints). -#}
{% macro p360_sorted_concat(expr) %}
    {{ return(adapter.dispatch('p360_sorted_concat', 'patient360')(expr)) }}
{% endmacro %}

{% macro default__p360_sorted_concat(expr) %}
    string_agg({{ expr }}, ',' order by {{ expr }})
{% endmacro %}

{% macro spark__p360_sorted_concat(expr) %}
    concat_ws(',', sort_array(collect_list({{ expr }})))
{% endmacro %}

{#- A scratch table of the identity resolution, in the model's own (restricted) schema. -#}
{% macro p360_work_relation(base, name) %}
    {{ return(api.Relation.create(database=base.database, schema=base.schema, identifier='identity__' ~ name)) }}
{% endmacro %}

{#- (Re)create a scratch table from a select; plain CTAS works on DuckDB and Spark alike. -#}
{% macro p360_work_table(relation, sql) %}
    {% do run_query('drop table if exists ' ~ relation) %}
    {% do run_query('create table ' ~ relation ~ ' as ' ~ sql) %}
{% endmacro %}

{% macro p360_drop_work_table(relation) %}
    {% do run_query('drop table if exists ' ~ relation) %}
{% endmacro %}

{#- The run's date for the registry's logs: the as-of date dbt was given, else today. -#}
{% macro p360_run_date() %}
    {%- set as_of = p360_as_of_date() -%}
    {%- if as_of -%} cast('{{ as_of }}' as date) {%- else -%} current_date {%- endif -%}
{% endmacro %}

{#- A restricted registry table's previous state, or an empty relation of the same shape on
    the very first run. Read without ref(): the registry is built *after* the models that
    compare against it (a ref would be a cycle). -#}
{% macro p360_previous_registry(base) %}
    {% set rel = adapter.get_relation(database=base.database, schema=base.schema, identifier='person_registry') %}
    {% if rel is not none %}
        {{ return('(select source, source_record_id, person_id, block_key, fingerprint from ' ~ rel ~ ')') }}
    {% endif %}
    {{ return('(select cast(null as ' ~ dbt.type_string() ~ ') as source, cast(null as ' ~ dbt.type_string()
        ~ ') as source_record_id, cast(null as bigint) as person_id, cast(null as ' ~ dbt.type_string()
        ~ ') as block_key, cast(null as ' ~ dbt.type_string() ~ ') as fingerprint where 1 = 0)') }}
{% endmacro %}

{#- Largest value of a column in a restricted table built later in the DAG (so read without
    ref()), or 0 before its first build. -#}
{% macro p360_previous_max(base, identifier, column) %}
    {% set rel = adapter.get_relation(database=base.database, schema=base.schema, identifier=identifier) %}
    {% if rel is none %}{{ return('cast(0 as bigint)') }}{% endif %}
    {{ return('(select coalesce(max(' ~ column ~ '), 0) from ' ~ rel ~ ')') }}
{% endmacro %}
