"""Zip the dashboards-as-code bundle for `superset import-dashboards`, pointed at one release file.

    python bi/superset/bundle_zip.py OUT.zip [--uri duckdb:////data/published/aggregate/marts.duckdb?access_mode=read_only]

The bundle (patient360_dashboards/: metadata, database, datasets, charts, dashboards) is
Superset's own export format, edited here or re-exported from Superset's UI. Its database entry
names the aggregate release as the compose stack mounts it; --uri replaces that for another
mount or a test's release (the compose service passes $P360_MARTS_URI). Standard library only,
so it runs in Superset's image and environment as they are.
"""

from __future__ import annotations

import argparse
import re
import zipfile
from pathlib import Path

BUNDLE = Path(__file__).resolve().parent / "patient360_dashboards"
URI_LINE = re.compile(r"^sqlalchemy_uri: .*$", re.MULTILINE)


def write_bundle(out: Path, uri: str | None = None, bundle: Path = BUNDLE) -> Path:
    """The bundle as a zip whose files sit under one root folder (what Superset's importer expects)."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(bundle.rglob("*.yaml")):
            text = path.read_text(encoding="utf-8")
            if uri and path.parent.name == "databases":
                text, n = URI_LINE.subn(lambda _: f"sqlalchemy_uri: {uri}", text)
                if n != 1:
                    raise SystemExit(f"{path}: expected one sqlalchemy_uri line, found {n}")
            zf.writestr(f"{bundle.name}/{path.relative_to(bundle)}", text)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--uri", help="SQLAlchemy URI of the aggregate release (default: the bundle's)")
    args = parser.parse_args()
    write_bundle(args.out, args.uri)


if __name__ == "__main__":
    main()
