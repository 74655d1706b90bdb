-- Points level (business_rules.md "Community activity tiers"): on points earned (redemptions do
-- not demote anyone): novice 0..points_novice_max, expert ..points_expert_max, ambassador above.
{{ config(
    materialized='incremental',
    unique_key='as_of_date',
    incremental_strategy=p360_incremental_strategy(),
    partition_by=p360_partition_by('as_of_date'),
    on_schema_change='append_new_columns'
) }}

-- joined on the integer person_id; patient_key comes with the person row (attached once upstream)
select
    d.patient_key,
    a.as_of_date,
    coalesce(c.points_earned, 0) as points_earned,
    coalesce(c.points_balance, 0) as points_balance,
    case
        when coalesce(c.points_earned, 0) <= {{ var('points_novice_max') }} then 'novice'
        when coalesce(c.points_earned, 0) <= {{ var('points_expert_max') }} then 'expert'
        else 'ambassador'
    end as points_level
from {{ ref('int_patient__demographics') }} as d
cross join {{ ref('int_run__as_of') }} as a
left join {{ ref('int_patient__crm') }} as c on d.person_id = c.person_id
