-- The list marketing may export for campaigns: only people whose current, explicit
-- marketing consent holds (PIPL separate opt-in). People who withdrew consent stay in
-- patient_360 and in clinical KPIs but never appear here. Current snapshot only.
select
    p.patient_key,
    p.as_of_date,
    p.acquisition_channel,
    p.lifecycle_stage,
    p.value_tier,
    p.need_type,
    p.churn_risk_level,
    p.community_activity_tier,
    p.points_level
from {{ ref('patient_360') }} as p
where p.marketing_consent
