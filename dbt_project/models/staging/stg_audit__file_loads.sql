-- Export partitions landed, one row per source and partition date with at least one file
-- landed (rows, or rows and quarantine). The run's default as-of date is the newest of them.
select distinct
    source,
    partition_date
from {{ source('audit', 'file_loads') }}
where status in ('landed', 'landed_with_quarantine')
