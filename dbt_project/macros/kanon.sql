{#- Generalisation hierarchies of the quasi-identifiers (k-anonymity, int_patient__kanon_quasi).
    Each macro returns the value one level up; 'suppressed' is the top of every hierarchy. -#}

{#- 5-year band -> 20-year band ('unknown' and '90+' stay: already coarse) -#}
{% macro age_band_20(band) -%}
    case
        when {{ band }} in ('unknown', '90+', 'suppressed') or {{ band }} not like '__-__' then {{ band }}
        else
            lpad(cast(({{ p360_int_div("cast(split_part(" ~ band ~ ", '-', 1) as integer)", '20') }}) * 20 as {{ dbt.type_string() }}), 2, '0')
            || '-' || lpad(cast(({{ p360_int_div("cast(split_part(" ~ band ~ ", '-', 1) as integer)", '20') }}) * 20 + 19 as {{ dbt.type_string() }}), 2, '0')
    end
{%- endmacro %}

{#- province -> region of China (English codes: never read as a person's name by the PII gate) -#}
{% macro province_region(province) -%}
    case
        when {{ province }} in ('unknown', 'suppressed') then {{ province }}
        when {{ province }} in ('北京', '天津', '河北', '山西', '内蒙古') then 'north'
        when {{ province }} in ('辽宁', '吉林', '黑龙江') then 'northeast'
        when {{ province }} in ('上海', '江苏', '浙江', '安徽', '福建', '江西', '山东', '台湾') then 'east'
        when {{ province }} in ('河南', '湖北', '湖南') then 'central'
        when {{ province }} in ('广东', '广西', '海南', '香港', '澳门') then 'south'
        when {{ province }} in ('重庆', '四川', '贵州', '云南', '西藏') then 'southwest'
        when {{ province }} in ('陕西', '甘肃', '青海', '宁夏', '新疆') then 'northwest'
        else 'other'
    end
{%- endmacro %}

{#- A date tied to a person, as published: the first day of its month (docs/deidentification.md) -#}
{% macro person_month(date_expr) -%}
    cast(date_trunc('month', {{ date_expr }}) as date)
{%- endmacro %}

{#- A generalised registration period ('2025-03', '2025-Q2', '2025') as the DATE it starts on;
    null when 'unknown' or 'suppressed' -#}
{% macro period_start(period) -%}
    case
        when {{ period }} like '____-Q_'
            then make_date(cast(left({{ period }}, 4) as integer), cast(right({{ period }}, 1) as integer) * 3 - 2, 1)
        when {{ period }} like '____-__'
            then make_date(cast(left({{ period }}, 4) as integer), cast(right({{ period }}, 2) as integer), 1)
        when {{ p360_full_match(period, '[0-9]{4}') }} then make_date(cast({{ period }} as integer), 1, 1)
    end
{%- endmacro %}

{#- is_elderly / {{ p360_float("is_child") }} from the PUBLISHED (generalised) age band, so a widened or suppressed
    band never shows more than the band itself: null when the band straddles the threshold -#}
{% macro band_at_least(band, years) -%}
    case
        when {{ band }} = '90+' then true
        when {{ band }} like '__-__' and cast(split_part({{ band }}, '-', 1) as integer) >= {{ years }} then true
        when {{ band }} like '__-__' and cast(split_part({{ band }}, '-', 2) as integer) < {{ years }} then false
    end
{%- endmacro %}

{% macro band_at_most(band, years) -%}
    case
        when {{ band }} = '90+' then false
        when {{ band }} like '__-__' and cast(split_part({{ band }}, '-', 2) as integer) <= {{ years }} then true
        when {{ band }} like '__-__' and cast(split_part({{ band }}, '-', 1) as integer) > {{ years }} then false
    end
{%- endmacro %}

{#- A class (window w) is published when it holds >= k people and >= l distinct sensitive values,
    or nobody in it has one: a group without any chronic programme discloses nothing sensitive.
    Rows are cells of `weight` people each. -#}
{% macro kanon_class_ok(k, l, weight) -%}
    (sum({{ weight }}) over w >= {{ k }} and ({{ p360_count_distinct_over('sensitive', 'w') }} >= {{ l }} or bool_and(sensitive = 'none') over w))
{%- endmacro %}
