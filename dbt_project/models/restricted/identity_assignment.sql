-- person_id for every record resolved by this run. A cluster keeps a person_id its records
-- already had: each previous person_id is claimed by the cluster holding most of its records
-- (ties: the smallest cluster), and a cluster claiming several keeps the oldest (smallest)
-- one -- the others are retired into it (a merge). A cluster claiming none gets a new id
-- above every id ever issued. Records whose previous person_id was claimed elsewhere were
-- split off. The registry is read without ref(): it is built from this model.
with resolved as (
    select * from {{ ref('identity_resolution') }}
),

previous as {{ p360_previous_registry(this) }},

joined as (
    select
        r.source,
        r.source_record_id,
        r.fingerprint,
        r.cluster_node,
        r.block_key,
        p.person_id as previous_person_id
    from resolved as r
    left join previous as p on r.source = p.source and r.source_record_id = p.source_record_id
),

claims as (
    select
        previous_person_id,
        cluster_node,
        row_number() over (partition by previous_person_id order by count(*) desc, cluster_node) as rnk
    from joined
    where previous_person_id is not null
    group by previous_person_id, cluster_node
),

kept as (
    select
        cluster_node,
        min(previous_person_id) as person_id
    from claims
    where rnk = 1
    group by cluster_node
),

issued as (
    select greatest(
        {{ p360_previous_max(this, 'person_registry', 'person_id') }},
        {{ p360_previous_max(this, 'person_keys', 'person_id') }},
        -- ids of erased persons are gone from the registry; their tombstones keep the high water
        {{ p360_previous_max(this, 'erasure_tombstones', 'person_id_floor') }}
    ) as high_water
),

fresh as (
    select
        c.cluster_node,
        i.high_water + row_number() over (order by c.cluster_node) as person_id
    from (select distinct cluster_node from resolved) as c
    cross join issued as i
    left join kept as k on c.cluster_node = k.cluster_node
    where k.cluster_node is null
),

assigned as (
    select
        j.*,
        cast(coalesce(k.person_id, f.person_id) as bigint) as person_id
    from joined as j
    left join kept as k on j.cluster_node = k.cluster_node
    left join fresh as f on j.cluster_node = f.cluster_node
),

cluster_persons as (
    select distinct
        cluster_node,
        person_id
    from assigned
)

select
    a.source,
    a.source_record_id,
    a.person_id,
    a.previous_person_id,
    -- who holds the previous person_id now (null for a new record)
    claimer.person_id as previous_person_kept_by,
    a.block_key,
    a.fingerprint
from assigned as a
left join claims as c on a.previous_person_id = c.previous_person_id and c.rnk = 1
left join cluster_persons as claimer on c.cluster_node = claimer.cluster_node
