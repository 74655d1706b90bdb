{#- Identifier normalisation used by staging. Pure SQL: no secrets, no UDFs. -#}

{#- Chinese mobile to 11 digits: strip separators and a +86/86/0086 prefix; NULL unless 1[3-9]xxxxxxxxx. -#}
{% macro normalise_mobile(col) -%}
    case
        when regexp_full_match(
            regexp_replace(regexp_replace({{ col }}, '[^0-9]', '', 'g'), '^(0086|86)(1[3-9][0-9]{9})$', '\2'),
            '1[3-9][0-9]{9}'
        )
        then regexp_replace(regexp_replace({{ col }}, '[^0-9]', '', 'g'), '^(0086|86)(1[3-9][0-9]{9})$', '\2')
    end
{%- endmacro %}

{#- Resident ID number upper-cased and trimmed; NULL unless region, birth date and check digit are valid. -#}
{% macro normalise_id_number(col) -%}
    case when {{ ric_is_valid('upper(trim(' ~ col ~ '))') }} then upper(trim({{ col }})) end
{%- endmacro %}

{#- GB 11643 check: 17 digits + check char, province code, real birth date, ISO 7064 MOD 11-2. -#}
{% macro ric_is_valid(expr) -%}
    coalesce(
        regexp_full_match({{ expr }}, '[1-8][0-9]{16}[0-9X]')
        and substr({{ expr }}, 1, 2) in (
            '11', '12', '13', '14', '15', '21', '22', '23', '31', '32', '33', '34', '35', '36', '37',
            '41', '42', '43', '44', '45', '46', '50', '51', '52', '53', '54', '61', '62', '63', '64', '65',
            '71', '81', '82'
        )
        and try_strptime(substr({{ expr }}, 7, 8), '%Y%m%d') is not null
        and substr('10X98765432', (
            {%- for w in [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] -%}
            {{ w }} * cast(substr({{ expr }}, {{ loop.index }}, 1) as integer){{ ' + ' if not loop.last }}
            {%- endfor -%}
        ) % 11 + 1, 1) = substr({{ expr }}, 18, 1),
        false
    )
{%- endmacro %}

{#- Glucose to mmol/L (18.0 mg/dL per mmol/L). -#}
{% macro glucose_to_mmol(value_col, unit_col) -%}
    case when {{ unit_col }} = 'mg/dL' then round({{ value_col }} / 18.0, 2) else {{ value_col }} end
{%- endmacro %}

{#- Keep the latest version of each key: later load, later line wins. -#}
{% macro dedupe(relation, key_cols, order_by) -%}
    select * from {{ relation }}
    qualify row_number() over (partition by {{ key_cols | join(', ') }} order by {{ order_by }}) = 1
{%- endmacro %}
