{#-
  How the incremental models replace what they rebuild, per engine.
  DuckDB: delete+insert on the model's unique_key. Spark tables here are plain Parquet (no
  Delta/Iceberg: no DELETE, UPDATE or MERGE), so a model keyed by one date column (a day of
  readings, a snapshot's as_of_date) is partitioned by it and rewritten partition by partition
  (insert_overwrite, dynamic partition overwrite); a model keyed by rows is rebuilt whole
  (p360_row_incremental). docs/scale.md explains the choice and the Delta/Iceberg alternative.
-#}
{% macro p360_incremental_strategy() %}{{ return(adapter.dispatch('p360_incremental_strategy', 'patient360')()) }}{% endmacro %}
{% macro default__p360_incremental_strategy() %}{{ return('delete+insert') }}{% endmacro %}
{% macro spark__p360_incremental_strategy() %}{{ return('insert_overwrite') }}{% endmacro %}

{#- The partition column on Spark (the date the model replaces); none on DuckDB. -#}
{% macro p360_partition_by(column) %}{{ return(adapter.dispatch('p360_partition_by', 'patient360')(column)) }}{% endmacro %}
{% macro default__p360_partition_by(column) %}{{ return(none) }}{% endmacro %}
{% macro spark__p360_partition_by(column) %}{{ return(column) }}{% endmacro %}

{#- Materialization of a model incremental by row key: a full rebuild on Spark (see above). -#}
{% macro p360_row_incremental() %}{{ return(adapter.dispatch('p360_row_incremental', 'patient360')()) }}{% endmacro %}
{% macro default__p360_row_incremental() %}{{ return('incremental') }}{% endmacro %}
{% macro spark__p360_row_incremental() %}{{ return('table') }}{% endmacro %}

{#- A hook that deletes rows of an incremental table; nothing to do where the model is rebuilt
    whole (Spark: p360_row_incremental) - and Parquet tables cannot DELETE. -#}
{% macro p360_delete_hook(sql) %}{{ return(adapter.dispatch('p360_delete_hook', 'patient360')(sql)) }}{% endmacro %}
{% macro default__p360_delete_hook(sql) %}{{ return(sql) }}{% endmacro %}
{% macro spark__p360_delete_hook(sql) %}{{ return('') }}{% endmacro %}

{#- The persistent person registry (person_registry, person_keys, person_survivors: keyed by row,
    never rebuilt: full_refresh=false) updates rows in place. DuckDB: the adapter's delete+insert.
    Spark: MERGE where the table format has row updates (Delta, Iceberg, Hudi: var
    spark_file_format); on plain Parquet, p360_rewrite (spark_registry_rewrite.sql): the table is
    rewritten beside itself with this run's rows replacing theirs, then swapped in by two renames
    that a crashed run's next start completes or undoes. -#}
{% macro p360_registry_strategy() %}{{ return(adapter.dispatch('p360_registry_strategy', 'patient360')()) }}{% endmacro %}
{% macro default__p360_registry_strategy() %}{{ return(none) }}{% endmacro %}
{% macro spark__p360_registry_strategy() %}
    {%- if var('spark_file_format', 'parquet') in ('delta', 'iceberg', 'hudi') -%}{{ return('merge') }}{%- endif -%}
    {{ return('p360_rewrite') }}
{% endmacro %}
