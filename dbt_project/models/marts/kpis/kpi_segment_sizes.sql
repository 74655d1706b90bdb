-- Segment sizes per month: how many people each segment of each segmentation holds, from the
-- month's latest snapshot (one snapshot per month, so every person is counted once per
-- segmentation and the segments of a segmentation add up to the people in the snapshot).
-- The aggregate release tier publishes it with small-cell suppression (counts under k are NULL);
-- the person-level segment tables stay in the person tier.
with snapshots as (
    select
        lc.as_of_date,
        'lifecycle_stage' as segment_type,
        lc.lifecycle_stage as segment
    from {{ ref('seg_lifecycle') }} as lc
    union all
    select
        r.as_of_date,
        'value_tier' as segment_type,
        r.value_tier as segment
    from {{ ref('seg_rfm_value') }} as r
    union all
    select
        n.as_of_date,
        'need_type' as segment_type,
        n.need_type as segment
    from {{ ref('seg_need_type') }} as n
    union all
    select
        ca.as_of_date,
        'community_activity_tier' as segment_type,
        ca.community_activity_tier as segment
    from {{ ref('seg_community_activity') }} as ca
    union all
    select
        cr.as_of_date,
        'churn_risk_level' as segment_type,
        cr.churn_risk_level as segment
    from {{ ref('seg_churn_risk') }} as cr
    union all
    select
        pl.as_of_date,
        'points_level' as segment_type,
        pl.points_level as segment
    from {{ ref('seg_points_level') }} as pl
    union all
    select
        dr.as_of_date,
        'data_richness_tier' as segment_type,
        dr.data_richness_tier as segment
    from {{ ref('seg_data_richness') }} as dr
    union all
    select
        pq.as_of_date,
        'priority_quadrant' as segment_type,
        pq.priority_quadrant as segment
    from {{ ref('seg_priority_quadrant') }} as pq
),

latest as (
    select
        *,
        max(as_of_date) over (partition by date_trunc('month', as_of_date), segment_type) as month_latest
    from snapshots
)

select
    cast(date_trunc('month', as_of_date) as date) as month,
    max(as_of_date) as as_of_date,
    segment_type,
    cast(coalesce(segment, 'unknown') as {{ dbt.type_string() }}) as segment,
    count(*) as patients
from latest
where as_of_date = month_latest
group by 1, 3, 4
