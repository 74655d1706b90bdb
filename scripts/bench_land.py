"""Kept for old habits: `patient360 bench-land` (landing vs a bare DuckDB read). The CLI is the front door;
see `patient360 bench-land --help`."""

import sys

from patient360.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench-land", *sys.argv[1:]]))
