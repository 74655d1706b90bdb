-- Net promoter score by month of answer: each person's latest answer in the month counts
-- once; promoters score 9-10, passives 7-8, detractors 0-6;
-- nps = 100 * (promoters - detractors) / responses, on the -100..100 scale.
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

answers as (
    select
        n.person_id,
        cast(date_trunc('month', n.answered_date) as date) as month,  -- noqa: RF04
        n.nps_score,
        n.answered_at,
        n.response_id
    from {{ ref('int_crm__nps_responses_keyed') }} as n
    cross join as_of
    where n.answered_date <= as_of.as_of_date and n.nps_score between 0 and 10
),

latest as (
    select * from answers
    qualify row_number() over (partition by person_id, month order by answered_at desc, response_id desc) = 1
)

select
    month,
    cast(count(*) as bigint) as responses,
    cast(count(*) filter (where nps_score >= 9) as bigint) as promoters,
    cast(count(*) filter (where nps_score between 7 and 8) as bigint) as passives,
    cast(count(*) filter (where nps_score <= 6) as bigint) as detractors,
    cast(count(*) filter (where nps_score >= 9) / {{ p360_float("count(*)") }} as double) as promoter_share,
    cast(count(*) filter (where nps_score <= 6) / {{ p360_float("count(*)") }} as double) as detractor_share,
    cast(
        100.0 * (count(*) filter (where nps_score >= 9) - count(*) filter (where nps_score <= 6))
        / {{ p360_float("count(*)") }} as double
    ) as nps
from latest
group by month
