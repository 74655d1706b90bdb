-- The run's as-of date: the `as_of_date` var when given (backfills), else the latest
-- day with any landed activity. Every segment and KPI is computed as of this date.
{% set as_of = var('as_of_date') %}
select
    {% if as_of %}
        cast('{{ as_of }}' as date)
    {% else %}
        coalesce(
            greatest(
                (select max(visit_date) from {{ ref('stg_his__visits') }}),
                (select max(requested_date) from {{ ref('stg_consult__sessions') }}),
                (select max(occurred_date) from {{ ref('stg_crm__points_ledger') }}),
                (select max(measured_date) from {{ ref('stg_wearable__readings') }})
            ),
            current_date
        )
    {% endif %} as as_of_date
