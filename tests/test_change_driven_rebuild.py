"""Change-driven per-person rebuilds (docs/incremental.md "Which persons a run rebuilds").

A daily build rebuilds per-person state (intermediate.int_patient__event_log) only for the
persons whose source rows changed, and still equals a full refresh. The scenario lands the
small export set day by day as the schedule does, then a day whose only file is a planted HIS
visits export:
- a new visit of person P dated three weeks back (a late arrival);
- an existing visit of person Q corrected to person R's MRN (the visit leaves Q, joins R).

That build must rebuild exactly P, Q and R (every other person's rows stay as they were, with
the previous build's watermark) and equal a full refresh. Then the same file is delivered
again without the late visit (a re-delivery replaces the file's rows): the removed row's owner
is unknown once it is gone, so every person is rebuilt, and the late visit is gone.

Last, a CRM contact merges two persons, and only the restricted layer builds that day (as when
the DAG's intermediate layer fails after the registry committed). The next run no longer
resolves that record, yet must still move the retired person's events to the survivor.
"""

from __future__ import annotations

import csv
import io
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

from patient360.dbt_runner import run_dbt
from patient360.pipeline import stage_land, stage_transform
from scenario import export_days, plant_merge, sql

pytestmark = pytest.mark.slow

LOG = "intermediate.int_patient__event_log"
TOUCHED = "intermediate.int_run__touched_persons"
LATE_VISIT = "V_LATE_0000001"


def _log(warehouse: Path, with_watermark: bool = False) -> dict[int, list[tuple]]:
    """The event log per person, rows sorted; the watermark column only when asked for."""
    cols = "person_id, event_date, event_type, specialty, revenue, is_service, is_activity"
    cols += ", _loaded_through" if with_watermark else ""
    out: dict[int, list[tuple]] = {}
    for row in sql(warehouse, f"select {cols} from {LOG} order by all"):
        out.setdefault(row[0], []).append(row)
    return out


def _visit_rows(exports: Path) -> tuple[list[str], list[dict], str]:
    """Header, rows and encoding of a generated HIS visits export."""
    original = next(p for p in sorted((exports / "his").glob("*/visits.csv")))
    raw = original.read_bytes()
    try:
        text, encoding = raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = raw.decode("gbk"), "gbk"
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader), encoding


def _write(path: Path, header: list[str], rows: list[dict], encoding: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))


def _person_of_mrn(warehouse: Path, mrn: str) -> int:
    return sql(
        warehouse,
        "select person_id from restricted.identity_links where source = 'his' and source_record_id = ?",
        [mrn],
    )[0][0]


def _build(warehouse: Path, day: date, target: Path) -> None:
    stage_transform(warehouse, as_of=day, target_dir=target)


def _full_refresh_log(warehouse: Path, day: date, tmp: Path) -> dict[int, list[tuple]]:
    """The oracle: the log rebuilt from scratch on a copy (the log and what it reads only; the
    daily builds above take the path the schedule takes)."""
    copy = tmp / "patient360.duckdb"
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(warehouse, copy)
    run_dbt(
        ["build", "--select", f"+{LOG.split('.')[1]}", "--full-refresh", "--exclude-resource-type", "unit_test"],
        copy,
        as_of=str(day),
        target_dir=tmp / "target",
    )
    return _log(copy)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory, small_exports: Path) -> dict:
    tmp = tmp_path_factory.mktemp("change_driven")
    exports = tmp / "exports"
    shutil.copytree(small_exports, exports)
    days = export_days(exports)
    end = days[-1]
    warehouse, target = tmp / "patient360.duckdb", tmp / "target"
    out: dict = {"warehouse": warehouse}

    for i, day in enumerate(days):  # the schedule: one partition a day, incremental builds
        stage_land(exports, warehouse, day=day)
        _build(warehouse, day, target)
        if i == len(days) - 1:
            out["daily_touched"] = sql(warehouse, f"select count(distinct person_id) from {TOUCHED}")[0][0]
            out["persons"] = sql(warehouse, "select count(*) from restricted.person_keys")[0][0]

    # the planted day: one HIS visits file, nothing else
    header, rows, encoding = _visit_rows(exports)
    by_mrn: dict[str, list[dict]] = {}
    for row in rows:
        by_mrn.setdefault(row["mrn"], []).append(row)
    p_mrn, q_mrn, r_mrn = sorted(m for m, v in by_mrn.items() if len(v) >= 2)[:3]
    planted_day = end + timedelta(days=1)
    late = dict(by_mrn[p_mrn][0])
    late_at = f"{planted_day - timedelta(days=21)} 09:30:00"
    late |= {"visit_id": LATE_VISIT, "started_at": late_at, "ended_at": late_at}
    corrected = dict(by_mrn[q_mrn][0]) | {"mrn": r_mrn}
    planted = exports / "his" / str(planted_day) / "visits_planted.csv"
    _write(planted, header, [late, corrected], encoding)

    before = _log(warehouse, with_watermark=True)
    stage_land(exports, warehouse, day=planted_day)
    _build(warehouse, planted_day, target)
    out |= {
        "p": _person_of_mrn(warehouse, p_mrn),
        "q": _person_of_mrn(warehouse, q_mrn),
        "r": _person_of_mrn(warehouse, r_mrn),
        "corrected_visit": corrected["visit_id"],
        "before": before,
        "after": _log(warehouse, with_watermark=True),
        "touched": sql(warehouse, f"select person_id, touched_because from {TOUCHED} order by all"),
        "incremental": _log(warehouse),
        "full": _full_refresh_log(warehouse, planted_day, tmp / "full1"),
    }

    # the same file delivered again without the late visit: version 2 replaces version 1's rows
    _write(planted, header, [corrected], encoding)
    stage_land(exports, warehouse, day=planted_day)
    _build(warehouse, planted_day, target)
    out |= {
        "redelivered_touched": sql(warehouse, f"select distinct touched_because from {TOUCHED}"),
        "redelivered_touched_count": sql(warehouse, f"select count(distinct person_id) from {TOUCHED}")[0][0],
        "persons_after": sql(warehouse, "select count(*) from restricted.person_keys")[0][0],
        "redelivered": _log(warehouse),
        "redelivered_full": _full_refresh_log(warehouse, planted_day, tmp / "full2"),
        "late_visit_rows": sql(
            warehouse, "select count(*) from staging.stg_his__visits where visit_id = ?", [LATE_VISIT]
        )[0][0],
    }

    # a merge the registry commits on a day the event log does not build
    merge_day = planted_day + timedelta(days=1)
    a, b, _ = plant_merge(warehouse, exports, merge_day)
    stage_land(exports, warehouse, day=merge_day)
    run_dbt(
        ["build", "--select", "path:models/restricted"],
        warehouse,
        as_of=str(merge_day),
        target_dir=target,
    )
    out["merge_before"] = _log(warehouse)
    _build(warehouse, merge_day, target)
    out |= {
        "merged": (min(a, b), max(a, b)),
        "merge_touched": sql(warehouse, f"select person_id, touched_because from {TOUCHED} order by all"),
        "merge_after": _log(warehouse),
        "merge_full": _full_refresh_log(warehouse, merge_day, tmp / "full3"),
    }
    return out


def test_a_daily_build_rebuilds_some_persons_not_everyone(scenario: dict) -> None:
    assert 0 < scenario["daily_touched"] < scenario["persons"]


def test_the_planted_day_rebuilds_exactly_the_persons_its_rows_concern(scenario: dict) -> None:
    p, q, r = scenario["p"], scenario["q"], scenario["r"]
    assert len({p, q, r}) == 3
    assert scenario["touched"] == sorted([(p, "source_rows"), (q, "source_rows"), (r, "source_rows")])


def test_untouched_persons_keep_their_rows_and_the_touched_get_the_new_watermark(scenario: dict) -> None:
    before, after = scenario["before"], scenario["after"]
    touched = {scenario["p"], scenario["q"], scenario["r"]}
    untouched = set(before) - touched
    assert len(untouched) > 10
    assert {pid: after.get(pid) for pid in untouched} == {pid: before[pid] for pid in untouched}
    old_mark = max(row[-1] for rows in before.values() for row in rows)
    for pid in touched & set(after):
        assert all(row[-1] > old_mark for row in after[pid]), pid


def test_the_late_visit_and_the_corrected_visit_land_on_their_persons(scenario: dict) -> None:
    before, after = scenario["before"], scenario["after"]
    p, q, r = scenario["p"], scenario["q"], scenario["r"]

    def visits(log: dict, pid: int) -> int:
        return sum(1 for row in log.get(pid, []) if row[2].startswith("visit_"))

    assert visits(after, p) == visits(before, p) + 1
    assert visits(after, q) == visits(before, q) - 1
    assert visits(after, r) == visits(before, r) + 1


def test_the_incremental_log_equals_a_full_refresh(scenario: dict) -> None:
    assert scenario["incremental"] == scenario["full"]
    assert sum(map(len, scenario["full"].values())) > 100


def test_a_redelivered_file_rebuilds_everyone_and_drops_the_removed_row(scenario: dict) -> None:
    assert scenario["late_visit_rows"] == 0
    assert scenario["redelivered"] == scenario["redelivered_full"]
    assert scenario["redelivered"] != scenario["incremental"]
    assert scenario["redelivered_touched"] == [("file_redelivered",)]
    assert scenario["redelivered_touched_count"] == scenario["persons_after"]


def test_a_merge_the_log_missed_is_applied_by_the_next_run(scenario: dict) -> None:
    survivor, retired = scenario["merged"]
    before, after = scenario["merge_before"], scenario["merge_after"]
    assert before.get(retired), "the retired person had events before the merge"
    assert (retired, "identity") in scenario["merge_touched"]
    assert (survivor, "identity") in scenario["merge_touched"]
    assert retired not in after
    assert len(after[survivor]) == len(before[retired]) + len(before.get(survivor, []))
    assert after == scenario["merge_full"]
