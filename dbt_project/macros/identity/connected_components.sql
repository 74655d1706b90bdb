{#-
  Connected components inside the engine: iterative minimum-label propagation with pointer
  jumping, one CTAS per round, driven from Jinja until no label changes.
    nodes_sql: select yielding `node` (bigint); edges_sql: select yielding `a`, `b` (bigint,
    either direction is enough). Result: table `out` (node, label), label = the smallest node
    of the component.
  Each round every node takes the smallest label among itself and its neighbours, then jumps
  to its label's label (which halves chains), so star-shaped inputs converge in a few rounds.
  Labels only ever decrease and stay inside the component, so the fixpoint is the minimum.
-#}
{% macro p360_connected_components(base, name, nodes_sql, edges_sql, max_rounds=64) %}
    {% set edges = p360_work_relation(base, name ~ '_edges') %}
    {% do p360_work_table(edges,
        'select a, b from (' ~ edges_sql ~ ') as e where a <> b '
        ~ 'union select b as a, a as b from (' ~ edges_sql ~ ') as e where a <> b') %}
    {% set state = namespace(current=p360_work_relation(base, name ~ '_r0'), done=false, rounds=0) %}
    {% do p360_work_table(state.current, 'select node, node as label from (' ~ nodes_sql ~ ') as n') %}
    {% for i in range(1, max_rounds + 1) if not state.done %}
        {% set nxt = p360_work_relation(base, name ~ '_r' ~ i) %}
        {% set round_sql %}
            with step as (
                select l.node, least(l.label, coalesce(m.min_label, l.label)) as label
                from {{ state.current }} as l
                left join (
                    select e.a as node, min(n.label) as min_label
                    from {{ edges }} as e inner join {{ state.current }} as n on n.node = e.b
                    group by e.a
                ) as m on m.node = l.node
            )
            select s.node, least(s.label, j.label) as label
            from step as s inner join step as j on j.node = s.label
        {% endset %}
        {% do p360_work_table(nxt, round_sql) %}
        {% set changed = run_query('select count(*) from ' ~ nxt ~ ' as n inner join ' ~ state.current
            ~ ' as o on o.node = n.node where n.label <> o.label').columns[0].values()[0] %}
        {% do p360_drop_work_table(state.current) %}
        {% set state.current = nxt %}
        {% set state.rounds = i %}
        {% if changed == 0 %}{% set state.done = true %}{% endif %}
    {% endfor %}
    {% if not state.done %}
        {{ exceptions.raise_compiler_error('connected components ' ~ name ~ ' did not converge in ' ~ max_rounds ~ ' rounds') }}
    {% endif %}
    {% set out = p360_work_relation(base, name) %}
    {% do p360_work_table(out, 'select node, label from ' ~ state.current) %}
    {% do p360_drop_work_table(state.current) %}
    {% do p360_drop_work_table(edges) %}
    {{ log('identity: ' ~ name ~ ' converged in ' ~ state.rounds ~ ' rounds', info=false) }}
    {{ return(out) }}
{% endmacro %}
