{#-
  p360_rewrite: an incremental strategy for keyed tables on plain Parquet (no DELETE, UPDATE or
  MERGE), used by the person registry on Spark (p360_registry_strategy, incremental_engine.sql).

  A run's rows replace the rows with the same unique_key:
    1. <table>__p360_delta   = this run's rows (the model's SQL, which reads <table>, runs once)
    2. <table>__p360_next    = <table> without the replaced keys, plus the delta
    3. <table>               -> <table>__p360_prev   (rename)
    4. <table>__p360_next    -> <table>              (rename)
    5. drop <table>__p360_prev                        (the materialization's main statement)
  <table> is never written in place, so a run killed at any step leaves the previous state whole:
  before step 3 in <table>, between 3 and 4 in <table>__p360_prev, which the next run's start
  (p360_recover_rewrites, on-run-start) renames back before any model reads the registry.

  dbt-spark accepts only its own strategy names, so its two strategy macros are extended here
  (the root project's macros take precedence over the adapter's); every other strategy goes to
  dbt-spark's own macros unchanged.
-#}
{% macro dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) %}
    {%- if raw_strategy == 'p360_rewrite' -%}{{ return(raw_strategy) }}{%- endif -%}
    {{ return(dbt.dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format)) }}
{% endmacro %}

{% macro dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates) %}
    {%- if strategy == 'p360_rewrite' -%}{{ return(p360_rewrite_sql(source, target, unique_key)) }}{%- endif -%}
    {{ return(dbt.dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates)) }}
{% endmacro %}

{% macro p360_rewrite_sibling(relation, suffix) %}
    {{ return(relation.incorporate(path={'identifier': relation.identifier ~ '__p360_' ~ suffix})) }}
{% endmacro %}

{#- Steps 1-4 run here; step 5 is returned as the materialization's main statement. -#}
{% macro p360_rewrite_sql(source, target, unique_key) %}
    {%- if not unique_key -%}
        {{ exceptions.raise_compiler_error('p360_rewrite needs a unique_key (' ~ target ~ ')') }}
    {%- endif -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- set delta, next, prev = p360_rewrite_sibling(target, 'delta'), p360_rewrite_sibling(target, 'next'), p360_rewrite_sibling(target, 'prev') -%}
    {#- the target's columns, in its order: the union below must line up (on_schema_change: ignore) -#}
    {%- set columns = adapter.get_columns_in_relation(target) | map(attribute='name') | join(', ') -%}
    {%- set replaced = [] -%}
    {%- for key in keys -%}{%- do replaced.append('kept.' ~ key ~ ' = run.' ~ key) -%}{%- endfor -%}
    {%- do run_query('drop table if exists ' ~ delta) -%}
    {%- do run_query('drop table if exists ' ~ next) -%}
    {%- do run_query('create table ' ~ delta ~ ' using parquet as select ' ~ columns ~ ' from ' ~ source) -%}
    {%- do run_query(
        'create table ' ~ next ~ ' using parquet as select ' ~ columns ~ ' from ' ~ target ~ ' as kept'
        ~ ' where not exists (select 1 from ' ~ delta ~ ' as run where ' ~ replaced | join(' and ') ~ ')'
        ~ ' union all select ' ~ columns ~ ' from ' ~ delta) -%}
    {%- do run_query('drop table ' ~ delta) -%}
    {%- do run_query('alter table ' ~ target ~ ' rename to ' ~ prev) -%}
    {%- do run_query('alter table ' ~ next ~ ' rename to ' ~ target) -%}
    {{ return('drop table if exists ' ~ prev) }}
{% endmacro %}

{#- on-run-start: finish or undo a swap a killed run left halfway, before anything reads the
    tables (the registry's previous state decides every person_id). Nothing to do on DuckDB. -#}
{% macro p360_recover_rewrites() %}{{ return(adapter.dispatch('p360_recover_rewrites', 'patient360')()) }}{% endmacro %}
{% macro default__p360_recover_rewrites() %}{{ return('') }}{% endmacro %}
{% macro spark__p360_recover_rewrites() %}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.config.incremental_strategy == 'p360_rewrite' -%}
        {%- if adapter.check_schema_exists(node.database, node.schema) -%}
            {%- set found = run_query("show tables in " ~ node.schema ~ " like '" ~ node.alias ~ "*'") -%}
            {%- set names = found.columns['tableName'].values() | map('lower') | list -%}
            {%- set base = api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias, type='table') -%}
            {%- set prev = p360_rewrite_sibling(base, 'prev') -%}
            {%- if (node.alias ~ '__p360_prev') | lower in names -%}
                {%- if node.alias | lower in names -%}
                    {%- do log('p360_rewrite: ' ~ base ~ ' was swapped in; dropping the left-over ' ~ prev, info=true) -%}
                    {%- do run_query('drop table ' ~ prev) -%}
                {%- else -%}
                    {%- do log('p360_rewrite: a run stopped between the renames of ' ~ base ~ '; restoring its previous state', info=true) -%}
                    {%- do run_query('alter table ' ~ prev ~ ' rename to ' ~ base) -%}
                    {%- do adapter.cache_added(base) -%}
                {%- endif -%}
            {%- endif -%}
            {%- for suffix in ('next', 'delta') if (node.alias ~ '__p360_' ~ suffix) | lower in names -%}
                {%- do run_query('drop table ' ~ p360_rewrite_sibling(base, suffix)) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return('') }}
{% endmacro %}
