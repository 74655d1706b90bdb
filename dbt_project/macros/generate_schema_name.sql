{#- Use the folder's schema as-is (staging, restricted, intermediate, marts) rather than
    dbt's default "<target>_<custom>", so BI users and the gates see stable schema names. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
