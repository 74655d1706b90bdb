-- Community win-back by month (docs/metrics.md "Community win-back"): the community analogue of
-- kpi_recall_winback, on community interactions (points-ledger events other than redemptions:
-- check-ins, talks, tasks, purchases, referrals), everything on or before the as-of date:
--   churned_at_start  people who joined a group before the month and, on its first day, had
--                     left every group or had no community interaction (nor a join) in the
--                     community_churn_days (30) before it;
--   won_back          of those, people with a community interaction in the month;
--   winback_rate      won_back / churned_at_start;
--   winback_retention_rate  of the won back whose first interaction in the month is at least
--                     winback_retention_days (30) before the as-of date, the share with a
--                     community interaction on or after that day + 30.
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

memberships as (
    select
        m.person_id,
        cast(m.joined_at as date) as joined_date,
        case when cast(m.left_at as date) <= as_of.as_of_date then cast(m.left_at as date) end as left_date
    from {{ ref('int_crm__group_memberships_keyed') }} as m
    cross join as_of
    where cast(m.joined_at as date) <= as_of.as_of_date
),

interactions as (
    select
        p.person_id,
        p.occurred_date
    from {{ ref('int_crm__points_ledger_keyed') }} as p
    cross join as_of
    where p.occurred_date <= as_of.as_of_date and p.event_type <> 'redeem'
),

last_seen as (
    select
        person_id,
        max(occurred_date) as last_date
    from interactions
    group by person_id
),

months as (
    select
        month,
        month_end
    from {{ ref('int_calendar__months') }}
    where month > (select min(m.joined_date) from memberships as m)
),

-- state on each month's first day of everyone who joined before it
states as (
    select
        months.month,
        months.month_end,
        m.person_id,
        bool_or(m.left_date is null or m.left_date >= months.month) as member_at_start,
        max(m.joined_date) as last_join_date
    from months
    inner join memberships as m on months.month > m.joined_date
    group by months.month, months.month_end, m.person_id
),

churned as (
    select
        s.month,
        s.month_end,
        s.person_id
    from states as s
    left join interactions as i on s.person_id = i.person_id and s.month > i.occurred_date
    group by s.month, s.month_end, s.person_id, s.member_at_start, s.last_join_date
    having
        not s.member_at_start
        or {{ p360_date_diff('day', "greatest(max(i.occurred_date), s.last_join_date)", "s.month") }}
        > {{ var('community_churn_days') }}
),

returns as (
    select
        c.month,
        c.person_id,
        min(i.occurred_date) as return_date
    from churned as c
    left join interactions as i
        on c.person_id = i.person_id and i.occurred_date between c.month and c.month_end
    group by c.month, c.person_id
),

flags as (
    select
        r.month,
        r.person_id,
        r.return_date,
        r.return_date is not null
        and r.return_date + {{ var('winback_retention_days') }} <= as_of.as_of_date as is_retention_eligible,
        coalesce(last_seen.last_date >= r.return_date + {{ var('winback_retention_days') }}, false) as is_retained
    from returns as r
    cross join as_of
    left join last_seen on r.person_id = last_seen.person_id
)

select
    months.month,
    cast(count(f.person_id) as bigint) as churned_at_start,
    cast(count(f.return_date) as bigint) as won_back,
    cast(count(f.return_date) / {{ p360_float("nullif(count(f.person_id), 0)") }} as double) as winback_rate,
    cast(count(*) filter (where f.is_retention_eligible) as bigint) as winback_retention_eligible,
    cast(count(*) filter (where f.is_retention_eligible and f.is_retained) as bigint) as winback_retained,
    cast(
        count(*) filter (where f.is_retention_eligible and f.is_retained)
        / {{ p360_float("nullif(count(*) filter (where f.is_retention_eligible), 0)") }} as double
    ) as winback_retention_rate
from months
left join flags as f on months.month = f.month
group by months.month
