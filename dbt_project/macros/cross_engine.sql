{#-
  Engine differences of the models, behind adapter.dispatch: the default__ variant is the
  DuckDB SQL, the spark__ variant the Spark SQL with the same result. Models call these
  (or dbt's cross-database macros) and never carry engine-specific SQL themselves.
-#}

{#- A top-level key of a JSON text column, as text (NULL when absent). -#}
{% macro p360_json_text(column, key) %}{{ return(adapter.dispatch('p360_json_text', 'patient360')(column, key)) }}{% endmacro %}
{% macro default__p360_json_text(column, key) %}{{ column }} ->> '{{ key }}'{% endmacro %}
{% macro spark__p360_json_text(column, key) %}get_json_object({{ column }}, '$.{{ key }}'){% endmacro %}

{#- Number of `part` boundaries between two dates/timestamps (DuckDB date_diff semantics:
    'day' compares calendar days, 'year' calendar years, 'second' whole-second marks). -#}
{% macro p360_date_diff(part, start, end) %}{{ return(adapter.dispatch('p360_date_diff', 'patient360')(part, start, end)) }}{% endmacro %}
{% macro default__p360_date_diff(part, start, end) %}date_diff('{{ part }}', {{ start }}, {{ end }}){% endmacro %}
{% macro spark__p360_date_diff(part, start, end) -%}
    {%- if part == 'day' -%} cast(datediff(cast({{ end }} as date), cast({{ start }} as date)) as bigint)
    {%- elif part == 'month' -%} cast((year({{ end }}) * 12 + month({{ end }})) - (year({{ start }}) * 12 + month({{ start }})) as bigint)
    {%- elif part == 'year' -%} cast(year({{ end }}) - year({{ start }}) as bigint)
    {%- elif part == 'second' -%} timestampdiff(SECOND, date_trunc('SECOND', {{ start }}), date_trunc('SECOND', {{ end }}))
    {%- else -%} {{ exceptions.raise_compiler_error('p360_date_diff: no Spark form for ' ~ part) }}
    {%- endif -%}
{%- endmacro %}

{#- Integer division (floor for the non-negative operands the models use). -#}
{% macro p360_int_div(a, b) %}{{ return(adapter.dispatch('p360_int_div', 'patient360')(a, b)) }}{% endmacro %}
{% macro default__p360_int_div(a, b) %}{{ a }} // {{ b }}{% endmacro %}
{% macro spark__p360_int_div(a, b) %}{{ a }} div {{ b }}{% endmacro %}

{#- Value of `value` on the row with the largest / smallest `by` (DuckDB arg_max, Spark max_by). -#}
{% macro p360_arg_max(value, by) %}{{ return(adapter.dispatch('p360_arg_max', 'patient360')(value, by)) }}{% endmacro %}
{% macro default__p360_arg_max(value, by) %}arg_max({{ value }}, {{ by }}){% endmacro %}
{% macro spark__p360_arg_max(value, by) %}max_by({{ value }}, {{ by }}){% endmacro %}

{% macro p360_arg_min(value, by) %}{{ return(adapter.dispatch('p360_arg_min', 'patient360')(value, by)) }}{% endmacro %}
{% macro default__p360_arg_min(value, by) %}arg_min({{ value }}, {{ by }}){% endmacro %}
{% macro spark__p360_arg_min(value, by) %}min_by({{ value }}, {{ by }}){% endmacro %}

{#- Interpolated quantile (DuckDB quantile_cont; Spark percentile interpolates the same way). -#}
{% macro p360_quantile_cont(value, fraction) %}{{ return(adapter.dispatch('p360_quantile_cont', 'patient360')(value, fraction)) }}{% endmacro %}
{% macro default__p360_quantile_cont(value, fraction) %}quantile_cont({{ value }}, {{ fraction }}){% endmacro %}
{% macro spark__p360_quantile_cont(value, fraction) %}percentile({{ value }}, {{ fraction }}){% endmacro %}

{#- Distinct values of a group, sorted and joined by `sep`. -#}
{% macro p360_distinct_string_agg(expr, sep) %}{{ return(adapter.dispatch('p360_distinct_string_agg', 'patient360')(expr, sep)) }}{% endmacro %}
{% macro default__p360_distinct_string_agg(expr, sep) %}string_agg(distinct {{ expr }}, '{{ sep }}' order by {{ expr }}){% endmacro %}
{% macro spark__p360_distinct_string_agg(expr, sep) %}string_agg(distinct {{ expr }}, '{{ sep }}') within group (order by {{ expr }}){% endmacro %}

{#- A list literal of expressions. -#}
{% macro p360_list(items) %}{{ return(adapter.dispatch('p360_list', 'patient360')(items)) }}{% endmacro %}
{% macro default__p360_list(items) %}[{{ items | join(', ') }}]{% endmacro %}
{% macro spark__p360_list(items) %}array({{ items | join(', ') }}){% endmacro %}

{#- A text split into a list at a literal separator. -#}
{% macro p360_split(expr, sep) %}{{ return(adapter.dispatch('p360_split', 'patient360')(expr, sep)) }}{% endmacro %}
{% macro default__p360_split(expr, sep) %}string_split({{ expr }}, '{{ sep }}'){% endmacro %}
{% macro spark__p360_split(expr, sep) %}split({{ expr }}, '{{ sep }}'){% endmacro %}

{#- Timestamps from `start` to `stop` (inclusive) by `step` (an interval literal). -#}
{% macro p360_series(start, stop, step) %}{{ return(adapter.dispatch('p360_series', 'patient360')(start, stop, step)) }}{% endmacro %}
{% macro default__p360_series(start, stop, step) %}generate_series({{ start }}, {{ stop }}, {{ step }}){% endmacro %}
{% macro spark__p360_series(start, stop, step) %}sequence({{ start }}, {{ stop }}, {{ step }}){% endmacro %}

{#- The last item of a FROM clause: one row per element of `list_expr` (which may refer to the
    preceding relations), as column `column` of `alias`. -#}
{% macro p360_cross_join_unnest(list_expr, alias, column) %}{{ return(adapter.dispatch('p360_cross_join_unnest', 'patient360')(list_expr, alias, column)) }}{% endmacro %}
{% macro default__p360_cross_join_unnest(list_expr, alias, column) %}cross join unnest({{ list_expr }}) as {{ alias }} ({{ column }}){% endmacro %}
{% macro spark__p360_cross_join_unnest(list_expr, alias, column) %}lateral view explode({{ list_expr }}) {{ alias }} as {{ column }}{% endmacro %}

{#- A relation of one column over a constant list (a FROM item). -#}
{% macro p360_values(items, alias, column) %}{{ return(adapter.dispatch('p360_values', 'patient360')(items, alias, column)) }}{% endmacro %}
{% macro default__p360_values(items, alias, column) %}unnest({{ items }}) as {{ alias }} ({{ column }}){% endmacro %}
{% macro spark__p360_values(items, alias, column) %}explode(array({{ items | join(', ') }})) as {{ alias }} ({{ column }}){% endmacro %}

{#- Date/timestamp as text, strftime format (only %Y %m %d are translated for Spark). -#}
{% macro p360_strftime(expr, fmt) %}{{ return(adapter.dispatch('p360_strftime', 'patient360')(expr, fmt)) }}{% endmacro %}
{% macro default__p360_strftime(expr, fmt) %}strftime({{ expr }}, '{{ fmt }}'){% endmacro %}
{% macro spark__p360_strftime(expr, fmt) %}date_format({{ expr }}, '{{ fmt | replace('%Y', 'yyyy') | replace('%m', 'MM') | replace('%d', 'dd') }}'){% endmacro %}

{#- Whole-string match of a regular expression. -#}
{% macro p360_full_match(expr, pattern) %}{{ return(adapter.dispatch('p360_full_match', 'patient360')(expr, pattern)) }}{% endmacro %}
{% macro default__p360_full_match(expr, pattern) %}{{ expr }} similar to '{{ pattern }}'{% endmacro %}
{% macro spark__p360_full_match(expr, pattern) %}{{ expr }} rlike '^(?:{{ pattern }})$'{% endmacro %}

{#- Distinct non-null values of `expr` in a window (Spark has no DISTINCT window aggregate). -#}
{% macro p360_count_distinct_over(expr, window) %}{{ return(adapter.dispatch('p360_count_distinct_over', 'patient360')(expr, window)) }}{% endmacro %}
{% macro default__p360_count_distinct_over(expr, window) %}count(distinct {{ expr }}) over {{ window }}{% endmacro %}
{% macro spark__p360_count_distinct_over(expr, window) %}size(collect_set({{ expr }}) over {{ window }}){% endmacro %}

{#- Every column of the FROM relation except these. -#}
{% macro p360_star_except(columns) %}{{ return(adapter.dispatch('p360_star_except', 'patient360')(columns)) }}{% endmacro %}
{% macro default__p360_star_except(columns) %}* exclude ({{ columns | join(', ') }}){% endmacro %}
{% macro spark__p360_star_except(columns) %}* except ({{ columns | join(', ') }}){% endmacro %}

{#- Every column of the FROM relation, these ({name: expression}) replaced (on Spark they move
    to the end; models select by name). -#}
{% macro p360_star_replace(replacements) %}{{ return(adapter.dispatch('p360_star_replace', 'patient360')(replacements)) }}{% endmacro %}
{% macro default__p360_star_replace(replacements) -%}
    * replace ({% for name, expr in replacements.items() %}{{ expr }} as {{ name }}{{ ", " if not loop.last }}{% endfor %})
{%- endmacro %}
{% macro spark__p360_star_replace(replacements) -%}
    * except ({{ replacements.keys() | join(', ') }}),
    {% for name, expr in replacements.items() %}{{ expr }} as {{ name }}{{ ", " if not loop.last }}{% endfor %}
{%- endmacro %}

{#- The divisor of every division. DuckDB's `/` always gives a DOUBLE; Spark divides decimals
    (money, literals such as 60.0) as decimals rounded to 6 places. A double divisor makes Spark
    divide in double precision too, so both engines return the same ratios. -#}
{% macro p360_float(expr) %}{{ return(adapter.dispatch('p360_float', 'patient360')(expr)) }}{% endmacro %}
{% macro default__p360_float(expr) %}{{ expr }}{% endmacro %}
{% macro spark__p360_float(expr) %}cast({{ expr }} as double){% endmacro %}
