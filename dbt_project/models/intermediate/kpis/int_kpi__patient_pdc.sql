-- Proportion of days covered (PDC) per person x look-back window (adherence_windows_days,
-- default 90 and 180 days ending on the as-of date). Standard PDC, per drug code:
--   * early refills carry over: a fill starts the day after the previous supply of the
--     same drug ends, if that is later than the fill date;
--   * covered days are the union of supplied days inside the window, capped at the window;
--   * denominator: days from the later of window start and the drug's first fill to the as-of date;
--   * drugs whose supply never reaches the window (discontinued before it) are left out.
-- Person PDC = mean of the PDC of the drugs counted (each chronic drug weighs the same).
-- Only chronic-programme maintenance drugs count (seed drug_programmes): an acute course
-- (a 7-day antibiotic) is not a medication the patient is expected to keep taking.
with as_of as (
    select as_of_date from {{ ref('int_run__as_of') }}
),

fills as (
    select
        p.person_id,
        p.drug_code,
        p.prescription_id,
        {{ p360_date_diff('day', "date '1970-01-01'", "p.prescribed_date") }} as fill_day,
        p.days_supplied
    from {{ ref('int_his__prescriptions_keyed') }} as p
    inner join {{ ref('drug_programmes') }} as dp on p.drug_code = dp.drug_code
    cross join as_of
    where p.prescribed_date <= as_of.as_of_date
),

-- G_i (first uncovered day after fill i) = max(F_i, G_{i-1}) + D_i unrolls to
-- S_i + max_{j<=i}(F_j - S_{j-1}), S = running total of days supplied: a window max
chained as (
    select
        *,
        sum(days_supplied) over w as supplied_to_date,
        min(fill_day) over (partition by person_id, drug_code) as first_fill_day
    from fills
    window w as (partition by person_id, drug_code order by fill_day, prescription_id rows unbounded preceding)
),

supplies as (
    select
        *,
        supplied_to_date + max(fill_day - (supplied_to_date - days_supplied)) over (
            partition by person_id, drug_code order by fill_day, prescription_id rows unbounded preceding
        ) as supply_end_excl
    from chained
),

windows as (
    select
        cast(w.window_days as integer) as window_days,
        {{ p360_date_diff('day', "date '1970-01-01'", "as_of.as_of_date") }} as as_of_day,
        {{ p360_date_diff('day', "date '1970-01-01'", "as_of.as_of_date") }} - w.window_days + 1 as window_start_day
    from as_of
    {{ p360_cross_join_unnest(p360_list(var('adherence_windows_days')), 'w', 'window_days') }}
),

per_drug as (
    select
        s.person_id,
        s.drug_code,
        w.window_days,
        -- supply_end_excl - days_supplied is where the (carried-over) supply of a fill starts
        sum(greatest(
            0,
            least(s.supply_end_excl - 1, w.as_of_day)
            - greatest(s.supply_end_excl - s.days_supplied, w.window_start_day, s.first_fill_day) + 1
        )) as covered_days,
        w.as_of_day - greatest(w.window_start_day, min(s.first_fill_day)) + 1 as eligible_days
    from supplies as s
    cross join windows as w
    group by s.person_id, s.drug_code, w.window_days, w.as_of_day, w.window_start_day
    having max(s.supply_end_excl) - 1 >= w.window_start_day
)

select
    person_id,
    window_days,
    cast(count(*) as bigint) as drugs_counted,
    cast(sum(covered_days) as bigint) as covered_days,
    cast(sum(eligible_days) as bigint) as eligible_days,
    cast(avg(least(1.0, covered_days / {{ p360_float("eligible_days") }})) as double) as pdc
from per_drug
group by person_id, window_days
