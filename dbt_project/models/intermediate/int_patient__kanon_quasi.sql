-- k-anonymity and l-diversity before publishing (docs/deidentification.md). The
-- quasi-identifiers are every person-level column declared meta.pii: quasi in marts: age band,
-- gender, city, province, registration period (is_elderly / is_child are derived from the
-- published band, so they add nothing). Every combination must hold >= k people (var
-- k_anonymity) with >= l distinct chronic-programme sets (var l_diversity). People in a
-- combination that fails are generalised one level, step by step (local recoding, cheapest
-- information loss first); whoever still fails after the last step is suppressed (every
-- quasi-identifier 'suppressed'), and if fewer than k people end up suppressed, the smallest
-- published combination is suppressed with them so the suppressed group also holds >= k.
{% set k = var('k_anonymity') %}
{% set l = var('l_diversity') %}
{% set qi = ['age_band', 'gender', 'city', 'province', 'registered_period'] %}
{% set steps = [
    ('registered_period', "case when length(registered_period) = 7 then left(registered_period, 4) || '-Q'"
        ~ " || cast(" ~ p360_int_div('(cast(right(registered_period, 2) as integer) + 2)', '3') ~ " as " ~ dbt.type_string()
        ~ ") else registered_period end"),
    ('city', 'province'),
    ('registered_period', "case when registered_period like '____-%' then left(registered_period, 4)"
        ~ " else registered_period end"),
    ('age_band', age_band_20('age_band')),
    ('city', province_region('province')),
    ('province', province_region('province')),
    ('registered_period', "'suppressed'"),
    ('age_band', "'suppressed'"),
    ('gender', "'suppressed'"),
] %}
-- Everyone with the same quasi-identifiers and the same programme set is treated alike, so the
-- steps run on those cells (about 1 per 9 people at 1M), each carrying its head count n and its
-- original values, and people take their cell's result at the end: window aggregates over one row
-- per person grew about 100-fold from 100k to 1M people (docs/deidentification.md).
with demo as (
    select
        d.person_id,
        d.age_band,
        d.gender,
        d.city,
        d.province,
        coalesce({{ p360_strftime('d.registered_date', '%Y-%m') }}, 'unknown') as registered_period,
        coalesce(c.programmes, 'none') as sensitive
    from {{ ref('int_patient__demographics') }} as d
    left join {{ ref('int_patient__clinical') }} as c on d.person_id = c.person_id
),

cells as (
    select
        {% for col in qi %}
            {{ col }} as original_{{ col }},
            {{ col }},
        {% endfor %}
        sensitive,
        count(*) as n,
        0 as gen_level
    from demo
    group by {{ qi | join(', ') }}, sensitive
),

{% for col, up in steps %}
    checked{{ loop.index }} as (
        select
            *,
            {{ kanon_class_ok(k, l, 'n') }} as ok
        from {{ 'cells' if loop.first else 'step' ~ (loop.index - 1) }}
        window w as (partition by {{ qi | join(', ') }})
    ),

    step{{ loop.index }} as (
        select
            {{ p360_star_except(['ok', col, 'gen_level']) }},
            case when ok then {{ col }} else {{ up }} end as {{ col }},
            case when ok then gen_level else {{ loop.index }} end as gen_level
        from checked{{ loop.index }}
    ),

{% endfor %}
final_check as (
    select
        *,
        {{ kanon_class_ok(k, l, 'n') }} as ok,
        lpad(cast(sum(n) over w as {{ dbt.type_string() }}), 12, '0') || '|' || concat_ws('|', {{ qi | join(', ') }}) as class_rank
    from step{{ steps | length }}
    window w as (partition by {{ qi | join(', ') }})
),

-- the suppressed people form one group of their own: it must not be smaller than k either, so
-- when 1..k-1 people fail, the smallest passing group (first by its values) is suppressed too
topped_up as (
    select
        *,
        not ok or (
            sum(case when not ok then n else 0 end) over () between 1 and {{ k }} - 1
            and class_rank = min(case when ok then class_rank end) over ()
        ) as is_suppressed
    from final_check
)

-- computed on the integer person_id; the patient_key is attached here, once per person
select
    d.person_id,
    k.patient_key,
    {% for col in qi %}
        case when t.is_suppressed then 'suppressed' else t.{{ col }} end as {{ col }},
    {% endfor %}
    case when t.is_suppressed then {{ steps | length + 1 }} else t.gen_level end as generalisation_level
from demo as d
inner join topped_up as t
    on
        d.sensitive = t.sensitive
        {% for col in qi %}
            and d.{{ col }} = t.original_{{ col }}
        {% endfor %}
inner join {{ ref('person_keys') }} as k on d.person_id = k.person_id
