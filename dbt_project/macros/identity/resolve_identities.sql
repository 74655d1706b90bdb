{#-
  Identity resolution in the engine (docs/identity.md is the one description of the rules).
  Run as the pre-hook of restricted.identity_resolution; it leaves the scratch table
  `identity__resolved` (one row per record in scope) that the model then selects.

  1. scope: records that are new or whose identifiers changed (fingerprint differs from the
     person registry), plus every record of a registry block touched by them: the block of a
     changed record and the block of any record sharing a linking identifier with one.
     A block is a connected component over *all* linking identifiers (mobile included), and
     every rule below looks only inside a block, so resolving the scope alone gives exactly
     what resolving everything would. No registry yet: everything is in scope.
  2. rule 1: components over the strong identifiers (id_number, wechat_unionid, platform_user_id).
  3. rule 2: a mobile shared by several rule-1 clusters merges them when at most one holds an
     ID number; otherwise each cluster without an ID number joins the holder whose name matches
     (exact, else one edit apart), else the oldest holder. A cluster without an ID number that
     reaches holders through several mobiles follows its smallest such mobile only, so it never
     bridges two ID holders.
  4. final components over rule-1 and rule-2 edges; blocks over all linking identifiers.
-#}
{% macro p360_resolve_identities(base, observations) %}
    {% if not execute %}{{ return('select 1') }}{% endif %}
    {% set strong = "('id_number', 'wechat_unionid', 'platform_user_id')" %}
    {% set linking = "('id_number', 'wechat_unionid', 'platform_user_id', 'mobile')" %}
    {% set str = dbt.type_string() %}
    {% set prev = p360_previous_registry(base) %}
    {% set scope = p360_work_relation(base, 'scope') %}
    {% set scope_sql %}
        with fp as (
            select source, source_record_id,
                md5({{ p360_sorted_concat("identifier_type || '=' || identifier_value") }}) as fingerprint
            from {{ observations }}
            group by source, source_record_id
        ),
        changed as (
            select fp.source, fp.source_record_id
            from fp left join {{ prev }} as p
                on p.source = fp.source and p.source_record_id = fp.source_record_id
            where p.source_record_id is null or p.fingerprint <> fp.fingerprint
        ),
        changed_values as (
            select distinct o.identifier_type, o.identifier_value
            from {{ observations }} as o inner join changed as c
                on c.source = o.source and c.source_record_id = o.source_record_id
            where o.identifier_type in {{ linking }}
        ),
        touched_blocks as (
            select p.block_key from {{ prev }} as p inner join changed as c
                on c.source = p.source and c.source_record_id = p.source_record_id
            union
            select p.block_key
            from {{ observations }} as o
            inner join changed_values as v
                on v.identifier_type = o.identifier_type and v.identifier_value = o.identifier_value
            inner join {{ prev }} as p on p.source = o.source and p.source_record_id = o.source_record_id
        ),
        in_scope as (
            select source, source_record_id from changed
            union
            select p.source, p.source_record_id
            from {{ prev }} as p inner join touched_blocks as b on b.block_key = p.block_key
        )
        select s.source, s.source_record_id, fp.fingerprint,
            cast(dense_rank() over (order by s.source, s.source_record_id) as bigint) as node
        from in_scope as s inner join fp on fp.source = s.source and fp.source_record_id = s.source_record_id
    {% endset %}
    {% do p360_work_table(scope, scope_sql) %}

    {% set sobs = p360_work_relation(base, 'scope_obs') %}
    {% do p360_work_table(sobs,
        'select s.node, o.identifier_type, o.identifier_value from ' ~ observations ~ ' as o inner join '
        ~ scope ~ ' as s on s.source = o.source and s.source_record_id = o.source_record_id') %}
    {% set nodes_sql = 'select node from ' ~ scope %}
    {#- star edges: every record to the smallest record carrying the same identifier value -#}
    {% set star %}
        select h.hub as a, o.node as b
        from {{ sobs }} as o inner join (
            select identifier_type, identifier_value, min(node) as hub from {{ sobs }}
            where identifier_type in __TYPES__ group by identifier_type, identifier_value
        ) as h on h.identifier_type = o.identifier_type and h.identifier_value = o.identifier_value
    {% endset %}
    {% set rule1 = p360_connected_components(base, 'rule1', nodes_sql, star | replace('__TYPES__', strong)) %}
    {% set blocks = p360_connected_components(base, 'blocks', nodes_sql, star | replace('__TYPES__', linking)) %}

    {% set rule2 = p360_work_relation(base, 'rule2_edges') %}
    {% set rule2_sql %}
        with attrs as (
            select c.label as cluster, o.identifier_type, o.identifier_value
            from {{ sobs }} as o inner join {{ rule1 }} as c on c.node = o.node
        ),
        holders as (select distinct cluster from attrs where identifier_type = 'id_number'),
        names as (select distinct cluster, identifier_value as person_name from attrs where identifier_type = 'person_name'),
        births as (
            select cluster, min(identifier_value) as birth_date from attrs
            where identifier_type = 'birth_date' group by cluster
        ),
        mobiles as (select distinct identifier_value as mobile, cluster from attrs where identifier_type = 'mobile'),
        shared as (
            select m.mobile, m.cluster, case when h.cluster is null then 0 else 1 end as is_holder
            from mobiles as m
            inner join (select mobile from mobiles group by mobile having count(*) > 1) as s on s.mobile = m.mobile
            left join holders as h on h.cluster = m.cluster
        ),
        mobile_hubs as (
            select mobile, min(cluster) as hub, max(is_holder) as any_holder from shared group by mobile
        ),
        without_holder as (
            select h.hub as a, s.cluster as b
            from shared as s inner join mobile_hubs as h on h.mobile = s.mobile
            where h.any_holder = 0
        ),
        candidates as (
            select x.cluster, x.mobile, h.cluster as holder,
                max(case when xn.person_name = hn.person_name then 1 else 0 end) as exact_name,
                max(case when levenshtein(xn.person_name, hn.person_name) <= 1 then 1 else 0 end) as near_name,
                coalesce(min(b.birth_date), '9999') as birth_date
            from shared as x
            inner join shared as h on h.mobile = x.mobile and h.is_holder = 1
            left join names as xn on xn.cluster = x.cluster
            left join names as hn on hn.cluster = h.cluster
            left join births as b on b.cluster = h.cluster
            where x.is_holder = 0
            group by x.cluster, x.mobile, h.cluster
        ),
        ranked as (
            select cluster, holder,
                row_number() over (
                    partition by cluster
                    order by mobile, exact_name desc, near_name desc, birth_date, holder
                ) as rnk
            from candidates
        )
        select a, b from without_holder
        union all
        select cluster as a, holder as b from ranked where rnk = 1
    {% endset %}
    {% do p360_work_table(rule2, rule2_sql) %}
    {% set final = p360_connected_components(base, 'final', nodes_sql,
        'select node as a, label as b from ' ~ rule1 ~ ' union all select a, b from ' ~ rule2) %}

    {% set resolved = p360_work_relation(base, 'resolved') %}
    {% set resolved_sql %}
        select s.source, s.source_record_id, s.fingerprint, f.label as cluster_node,
            concat(bs.source, ':', bs.source_record_id) as block_key
        from {{ scope }} as s
        inner join {{ final }} as f on f.node = s.node
        inner join {{ blocks }} as b on b.node = s.node
        inner join {{ scope }} as bs on bs.node = b.label
    {% endset %}
    {% do p360_work_table(resolved, resolved_sql) %}
    {% for rel in [sobs, rule1, blocks, rule2, final] %}{% do p360_drop_work_table(rel) %}{% endfor %}
    {{ return('select 1') }}
{% endmacro %}
