-- Data coverage warning: one row per source whose unattributed share (readings or events no
-- person could be attributed to, over every landed day in kpi_data_coverage) exceeds
-- coverage_max_unattributed_share. Severity warn: the run goes on, dbt prints WARN with the
-- count of such sources, and patient360.pipeline logs it as a warning (Airflow task log).
{{ config(severity='warn') }}

select
    source,
    sum(unattributed_records) as unattributed_records,
    sum(total_records) as total_records,
    sum(unattributed_records) / sum(total_records) as unattributed_share
from {{ ref('kpi_data_coverage') }}
group by source
having sum(unattributed_records) / sum(total_records) > {{ var('coverage_max_unattributed_share') }}
