"""Kept for old habits: `patient360 bench-identity` (identity quality and stage timings). The CLI is the front door;
see `patient360 bench-identity --help`."""

import sys

from patient360.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench-identity", *sys.argv[1:]]))
