{#- Identifier normalisation used by staging: thin wrappers over the DuckDB macros that
    patient360.identifiers generates (the one home of the resident-ID and mobile rules). The dbt
    plugin (patient360.dbt_plugin) creates them in the warehouse on every dbt connection. -#}

{#- Chinese mobile to 11 digits: separators and a +86/0086/86 prefix removed; NULL unless 1[3-9]xxxxxxxxx. -#}
{% macro normalise_mobile(col) -%}
    p360_normalise_mobile({{ col }})
{%- endmacro %}

{#- Resident ID number trimmed and upper-cased; NULL unless region, birth date and check digit are valid. -#}
{% macro normalise_id_number(col) -%}
    p360_normalise_id_number({{ col }})
{%- endmacro %}

{#- Glucose to mmol/L (18.0 mg/dL per mmol/L). -#}
{% macro glucose_to_mmol(value_col, unit_col) -%}
    case when {{ unit_col }} = 'mg/dL' then round({{ value_col }} / {{ p360_float("18.0") }}, 2) else {{ value_col }} end
{%- endmacro %}

{#- Keep the latest version of each key: later load, later line wins. -#}
{% macro dedupe(relation, key_cols, order_by) -%}
    select * from {{ relation }}
    qualify row_number() over (partition by {{ key_cols | join(', ') }} order by {{ order_by }}) = 1
{%- endmacro %}
