{#
    Referential integrity for snapshot tables (one snapshot per as_of_date): every row of
    the current snapshot (the as_of_date of `to`, i.e. of this run) points to a row of `to`.
    Older snapshots are history: they may hold people `to` no longer has (keys retired by
    an identity merge are rewritten to the survivor's, macro remap_retired_keys, but nothing
    else is); the built-in `relationships` test cannot be scoped that way (a test's `where`
    config cannot use ref()).
#}
{% test current_snapshot_relationships(model, column_name, to, field, snapshot_column='as_of_date') %}
select child.{{ column_name }}
from {{ model }} as child
where child.{{ snapshot_column }} = (select max(p.{{ snapshot_column }}) from {{ to }} as p)
    and child.{{ column_name }} is not null
    and not exists (
        select 1 from {{ to }} as parent where parent.{{ field }} = child.{{ column_name }}
    )
{% endtest %}
