-- LTV by need type and by RFM value tier over fixed horizons (docs/metrics.md "LTV by segment"):
-- one row per segment_type ('need_type', 'value_tier') x segment x horizon H in ltv_horizons_days.
--   eligible_patients  people whose first paid service (int_kpi__person_acquisition.acquired_date)
--                      is at least H - 1 days before the as-of date, so their whole horizon
--                      [acquired, acquired + H - 1] is observed (a younger customer is never
--                      averaged in: truncated revenue would understate the segment);
--   horizon_revenue    what they paid inside their horizon; horizon_margin = revenue x margin_rate;
--   ltv                horizon_margin / eligible_patients (margin LTV, as in kpi_acquisition_cohorts);
--   ltv_ratio_to_acute ltv / the ltv of need type acute_consult at the same horizon: the
--                      health_management row checks the "3.2x the LTV of acute-consult users" claim.
-- The segment is the person's snapshot as of D (seg_need_type, seg_rfm_value).
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

horizons as (
    select cast(h.horizon_days as integer) as horizon_days
    from {{ p360_values(var('ltv_horizons_days'), 'h', 'horizon_days') }}
),

segments as (
    select
        n.patient_key,
        'need_type' as segment_type,
        n.need_type as segment
    from {{ ref('seg_need_type') }} as n
    inner join as_of on n.as_of_date = as_of.as_of_date
    union all
    select
        r.patient_key,
        'value_tier' as segment_type,
        r.value_tier as segment
    from {{ ref('seg_rfm_value') }} as r
    inner join as_of on r.as_of_date = as_of.as_of_date
),

eligible as (
    select
        s.segment_type,
        s.segment,
        h.horizon_days,
        p.person_id,
        p.acquired_date
    from segments as s
    -- the published segments carry only the patient_key; from here on the person is the integer id
    inner join {{ ref('int_kpi__person_acquisition') }} as p on s.patient_key = p.patient_key
    cross join horizons as h
    cross join as_of
    where p.acquired_date + h.horizon_days - 1 <= as_of.as_of_date
),

person_revenue as (
    select
        el.segment_type,
        el.segment,
        el.horizon_days,
        el.person_id,
        coalesce(sum(e.revenue), 0) as revenue
    from eligible as el
    left join {{ ref('int_patient__events') }} as e
        on
            el.person_id = e.person_id
            and e.revenue > 0
            and e.event_date between el.acquired_date and el.acquired_date + el.horizon_days - 1
    group by all
),

by_segment as (
    select
        segment_type,
        segment,
        horizon_days,
        count(*) as eligible_patients,
        sum(revenue) as horizon_revenue
    from person_revenue
    group by all
),

with_ltv as (
    select
        *,
        cast(horizon_revenue * {{ var('margin_rate') }} as decimal(18, 2)) as horizon_margin,
        cast(horizon_revenue * {{ var('margin_rate') }} / {{ p360_float("eligible_patients") }} as double) as ltv
    from by_segment
)

select
    w.segment_type,
    w.segment,
    w.horizon_days,
    cast(w.eligible_patients as bigint) as eligible_patients,
    cast(w.horizon_revenue as decimal(18, 2)) as horizon_revenue,
    w.horizon_margin,
    w.ltv,
    cast(w.ltv / {{ p360_float("nullif(acute.ltv, 0)") }} as double) as ltv_ratio_to_acute
from with_ltv as w
left join with_ltv as acute
    on
        w.horizon_days = acute.horizon_days
        and acute.segment_type = 'need_type'
        and acute.segment = 'acute_consult'
