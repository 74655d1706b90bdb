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
    never rebuilt: full_refresh=false) must update rows in place. DuckDB: the adapter's
    delete+insert. Spark: MERGE, which needs a table format with row updates (Delta or Iceberg:
    var spark_file_format). On plain Parquet the first build works (nothing to update), and a
    later run stops here rather than append a second row per record. -#}
{% macro p360_registry_strategy() %}{{ return(adapter.dispatch('p360_registry_strategy', 'patient360')()) }}{% endmacro %}
{% macro default__p360_registry_strategy() %}{{ return(none) }}{% endmacro %}
{% macro spark__p360_registry_strategy() %}
    {%- if var('spark_file_format', 'parquet') in ('delta', 'iceberg', 'hudi') -%}{{ return('merge') }}{%- endif -%}
    {%- if execute and is_incremental() -%}
        {{ exceptions.raise_compiler_error(
            'the person registry (' ~ this ~ ') is updated in place: on Spark that needs Delta or Iceberg tables '
            ~ '(--vars "{spark_file_format: delta}", docs/scale.md); plain Parquet supports only the first build') }}
    {%- endif -%}
    {{ return('append') }}
{% endmacro %}
