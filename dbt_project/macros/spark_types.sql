{#- Column types declared in the models' YAML (model contracts) are DuckDB's names. On Spark,
    dbt casts NULL to each declared type to build the contract's reference schema: these are
    the Spark types the same models produce there. -#}
{% macro p360_spark_type(data_type) %}
    {%- set t = data_type | trim | lower -%}
    {%- set mapping = {
        'varchar': 'string',
        'text': 'string',
        'hugeint': 'bigint',
        'timestamp': 'timestamp_ntz',
        'timestamptz': 'timestamp',
    } -%}
    {{- return(mapping.get(t, data_type)) -}}
{% endmacro %}

{#- dbt's cross-database cast on Spark, with the DuckDB type names translated. -#}
{% macro spark__cast(field, type) %}cast({{ field }} as {{ p360_spark_type(type) }}){% endmacro %}
