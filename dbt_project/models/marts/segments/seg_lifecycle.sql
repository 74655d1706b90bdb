-- Lifecycle stage per person as of the run date (business_rules.md "Lifecycle"), one snapshot
-- per as_of_date (incremental, delete+insert keyed on as_of_date: re-running a date replaces
-- its whole snapshot; in older snapshots the post-hook remap_retired_keys rewrites the keys
-- an identity merge retired to the survivor's).
-- Precedence: new (registered <= lifecycle_new_days) > churned (inactive >
-- lifecycle_churned_days) > silent (inactive >= lifecycle_silent_days) > active (>=
-- lifecycle_active_min_days active days and >= lifecycle_active_min_services services in
-- the last lifecycle_active_window_days) > occasional (inactive < 30 days but below the
-- active bar). Community lifecycle (first that holds): none (no CRM contact), potential
-- (contact, never joined a group), community_churned (joined once, but no longer a member or
-- no community interaction for community_churn_days: churn wins over loyalty), loyal (member
-- >= 180 days or referred someone), member.
{{ config(
    materialized='incremental',
    unique_key='as_of_date',
    incremental_strategy=p360_incremental_strategy(),
    partition_by=p360_partition_by('as_of_date'),
    on_schema_change='append_new_columns'
) }}

with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

people as (
    select
        d.person_id,
        d.patient_key,
        d.registered_date,
        s.last_active_date,
        coalesce(s.active_days_30d, 0) as active_days_30d,
        coalesce(s.services_30d, 0) as services_30d,
        c.person_id is not null as has_crm_contact,
        coalesce(c.community_groups_joined, 0) as community_groups_joined,
        coalesce(c.community_member, false) as community_member,
        coalesce(c.referrals_made, 0) as referrals_made
    from {{ ref('int_patient__demographics') }} as d
    left join {{ ref('int_patient__service_summary') }} as s on d.person_id = s.person_id
    left join {{ ref('int_patient__crm') }} as c on d.person_id = c.person_id
),

community as (
    select
        e.person_id,
        max(e.event_date) as last_community_date,
        min(e.event_date) as first_community_date
    from {{ ref('int_patient__events') }} as e
    where e.event_type like 'community_%'
    group by e.person_id
)

-- joined on the integer person_id; patient_key comes with the person row (attached once upstream)
select
    people.patient_key,
    as_of.as_of_date,
    {{ person_month('people.last_active_date') }} as last_active_date,
    -- counted from the published month of the last interaction: the exact day would undo the month
    -- (null without any interaction: the registration day would leak what patient_360 generalises)
    {{ p360_date_diff('day', person_month('people.last_active_date'), 'as_of.as_of_date') }} as days_inactive,
    people.active_days_30d,
    people.services_30d,
    case
        when {{ p360_date_diff('day', "people.registered_date", "as_of.as_of_date") }} <= {{ var('lifecycle_new_days') }} then 'new'
        when
            {{ p360_date_diff('day', "coalesce(people.last_active_date, people.registered_date)", "as_of.as_of_date") }}
            > {{ var('lifecycle_churned_days') }} then 'churned'
        when
            {{ p360_date_diff('day', "coalesce(people.last_active_date, people.registered_date)", "as_of.as_of_date") }}
            >= {{ var('lifecycle_silent_days') }} then 'silent'
        when
            people.active_days_30d >= {{ var('lifecycle_active_min_days') }}
            and people.services_30d >= {{ var('lifecycle_active_min_services') }} then 'active'
        else 'occasional'
    end as lifecycle_stage,
    case
        when not people.has_crm_contact then 'none'
        when people.community_groups_joined = 0 then 'potential'
        when
            not people.community_member
            or {{ p360_date_diff('day', "coalesce(community.last_community_date, date '1900-01-01')", "as_of.as_of_date") }}
            > {{ var('community_churn_days') }} then 'community_churned'
        when
            {{ p360_date_diff('day', "community.first_community_date", "as_of.as_of_date") }} >= 180 or people.referrals_made > 0
            then 'loyal'
        else 'member'
    end as community_lifecycle_stage
from people
cross join as_of
left join community on people.person_id = community.person_id
