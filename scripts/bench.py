"""Kept for old habits: `patient360 bench` (the benchmark harness). The CLI is the front door;
see `patient360 bench --help`."""

import sys

from patient360.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
