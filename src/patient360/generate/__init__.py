"""Synthetic HIS / CRM / consult / wearable exports with ground truth.

    generate_exports(out_dir, patients, days, seed, end_date=None, dirt_rate=None, progress=True,
                     history_days=HISTORY_DAYS, hr_per_day=DEFAULT_HR_PER_DAY)

Writes `DIR/<source>/<YYYY-MM-DD>/<table>.<ext>` for the `days` partitions ending at
`end_date` (default a fixed date, so a seed always gives byte-identical files), and
`DIR/_truth/` (identity.csv, persons.csv, dirt.csv, manifest.json). The first partition
is a full export that also carries `history_days` (default 180) of history; later partitions carry
that day's new and changed records. Dirt (defects the landing must quarantine) is
planted at `dirt_rate` per kind and listed in `_truth/dirt.csv`; `dirt_rate=0` is clean.
Wearable readings are generated and written one day at a time, so memory stays bounded.

Modules: params (every realism constant), identifiers, population, his, crm, community,
consult, wearable, dirt, writers, truth, exports (orchestration).
"""

from patient360.generate.exports import GenerateSummary, generate_exports
from patient360.generate.params import DEFAULT_END_DATE

__all__ = ["DEFAULT_END_DATE", "GenerateSummary", "generate_exports"]
