"""`patient360 erase --exports`: the person is found in every export layout landing accepts, and
a rewrite removes exactly their rows, every other byte kept (header, encoding, line ends)."""

from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path

import pytest

from patient360.erase import Person
from patient360.erase_exports import exports_with_person, rewrite_export

VENDORS = Path(__file__).parent / "fixtures" / "vendors"


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")  # the last element is b"" for a file ending in a line end


def _field_lines(data: bytes, column: str, value: str, encoding: str) -> list[int]:
    """Indexes of the data lines whose `column` field is exactly `value` (the test's oracle)."""
    lines = _lines(data)
    header = next(csv.reader([lines[0].decode(encoding).rstrip("\r")]))
    col = header.index(column)
    return [
        i
        for i, raw in enumerate(lines[1:], start=1)
        if raw and next(csv.reader([raw.decode(encoding).rstrip("\r")]))[col] == value
    ]


def _without(data: bytes, drop: list[int]) -> bytes:
    return b"\n".join(raw for i, raw in enumerate(_lines(data)) if i not in set(drop))


@pytest.fixture
def his(small_exports: Path, tmp_path: Path) -> dict:
    """One generated HIS partition (GBK CSV), patients.csv with CR LF line ends and a decoy row:
    another patient whose MRN has the person's MRN as a prefix."""
    day = sorted(p for p in (small_exports / "his").iterdir() if p.is_dir())[0]
    folder = tmp_path / "exports" / "his" / day.name
    shutil.copytree(day, folder)
    patients = folder / "patients.csv"
    lines = _lines(patients.read_bytes())
    first = next(csv.reader([lines[1].decode("gbk")]))
    header = next(csv.reader([lines[0].decode("gbk")]))
    mrn, id_number, mobile = (first[header.index(c)] for c in ("mrn", "id_number", "mobile"))
    decoy = lines[2].replace(lines[2].split(b",")[0], mrn.encode() + b"0")
    data = b"\r\n".join([*lines[:3], decoy, *lines[3:-1]]) + b"\r\n"
    patients.write_bytes(data)
    assert any(ord(c) > 127 for c in data.decode("gbk")) and data.decode("gbk").encode("gbk") == data
    person = Person(identifiers={"mrn": {mrn}, "id_number": {id_number}, "mobile": {mobile}})
    return {"folder": folder, "person": person, "mrn": mrn}


def test_gbk_his_csv_is_listed_and_rewritten_byte_for_byte(his: dict) -> None:
    folder, person, mrn = his["folder"], his["person"], his["mrn"]
    before = {p: p.read_bytes() for p in folder.iterdir()}
    mine = {p: _field_lines(data, "mrn", mrn, "gbk") for p, data in before.items()}
    holding = sorted(p for p, idx in mine.items() if idx)
    assert folder / "patients.csv" in holding and len(holding) >= 2  # the person's visits etc. too
    assert exports_with_person(folder.parent.parent, person) == holding

    for path in holding:
        assert rewrite_export(path, person)
    for path, data in before.items():
        expected = _without(data, mine[path])
        if path.exists():
            assert path.read_bytes() == expected, path  # header, GBK bytes, CR LF: all kept
        else:
            assert len(_lines(expected)) <= 2, path  # deleted: nothing but the header was left
    patients = (folder / "patients.csv").read_bytes()
    assert (mrn + "0").encode() in patients and b"\r\n" in patients  # the decoy row stayed
    assert exports_with_person(folder.parent.parent, person) == []


@pytest.fixture
def wearable(tmp_path: Path) -> Path:
    """Vendor exports as landing accepts them: two Dexcom Clarity files (one person each), a
    LibreView file, an Apple Health export.xml and a Fitbit table holding two people."""
    folder = tmp_path / "exports" / "wearable" / "2026-11-28"
    folder.mkdir(parents=True)
    for name in ("Clarity_Export_Li_Wei_2026-11-28_080000.csv", "Clarity_Export_Schmidt_Anna_2026-10-25.csv",
                 "ZhouMeiling_glucose_29-11-2026.csv", "export.xml", "heartrateseconds_merged.csv"):  # fmt: skip
        shutil.copy(VENDORS / name, folder / name)
    lines = _lines((VENDORS / "dailyActivity_merged.csv").read_bytes())
    rows = [ln for ln in lines[1:] if ln]
    other = [ln.replace(b"1503960366", b"2022484408") for ln in rows]
    mixed = [lines[0]] + [ln for pair in zip(rows, other, strict=True) for ln in pair]
    (folder / "dailyActivity_merged.csv").write_bytes(b"\n".join(mixed) + b"\n")
    return folder


def _apple_serial(source_name: str) -> str:
    return "AH-" + hashlib.sha256(source_name.encode("utf-8")).hexdigest()[:12]


def test_wearable_vendor_layouts_are_listed_and_rewritten(wearable: Path) -> None:
    exports = wearable.parent.parent
    fitbit = wearable / "dailyActivity_merged.csv"
    before = fitbit.read_bytes()
    # Li Wei: a Dexcom transmitter and a Fitbit account (landing's serial FB-<Id>)
    li_wei = Person(identifiers={"device_serial": {"DX7A21B9C4", "FB-1503960366"}})
    dexcom = wearable / "Clarity_Export_Li_Wei_2026-11-28_080000.csv"
    assert exports_with_person(exports, li_wei) == sorted([dexcom, fitbit])
    assert rewrite_export(dexcom, li_wei) and not dexcom.exists()  # one person's export, name lines too
    assert rewrite_export(fitbit, li_wei)
    drop = [i for i, ln in enumerate(_lines(before)) if ln.startswith(b"1503960366,")]
    assert fitbit.read_bytes() == _without(before, drop)  # header and the other person's rows as they were
    assert exports_with_person(exports, li_wei) == []

    # Zhou Meiling: a Libre sensor and an Apple Watch (landing's serial AH-<sha256 of sourceName>)
    zhou = Person(identifiers={"device_serial": {"4F3C2B1A-9D8E-4C7B-A6F5-0E1D2C3B4A59",
                                                 _apple_serial("周美玲的Apple Watch")}})  # fmt: skip
    libre, apple = wearable / "ZhouMeiling_glucose_29-11-2026.csv", wearable / "export.xml"
    assert exports_with_person(exports, zhou) == sorted([libre, apple])
    for path in (libre, apple):
        assert rewrite_export(path, zhou) and not path.exists()
    untouched = ("Clarity_Export_Schmidt_Anna_2026-10-25.csv", "heartrateseconds_merged.csv")
    assert all((wearable / n).read_bytes() == (VENDORS / n).read_bytes() for n in untouched)


def test_gzip_is_rewritten_and_a_truncated_one_deleted(tmp_path: Path) -> None:
    import gzip

    folder = tmp_path / "exports" / "wearable" / "2026-11-28"
    folder.mkdir(parents=True)
    header, mine, other = b"device_serial,measured_at,value\r\n", b"SN-MINE,2026-11-28,1\r\n", b"SN-2,2026-11-28,2\r\n"
    whole, truncated = folder / "readings.csv.gz", folder / "readings_late.csv.gz"
    whole.write_bytes(gzip.compress(header + (mine + other) * 50))
    truncated.write_bytes(gzip.compress(header + (mine + other) * 50)[:-12])  # landing rejects it (no end marker)
    person = Person(identifiers={"device_serial": {"SN-MINE"}})
    assert exports_with_person(tmp_path / "exports", person) == sorted([whole, truncated])
    assert rewrite_export(whole, person) and rewrite_export(truncated, person)
    assert gzip.decompress(whole.read_bytes()) == header + other * 50
    assert not truncated.exists()  # a repaired copy would land as new data
