"""Kept for old habits: `patient360 bench-generate` (generator throughput and peak memory). The CLI is the front door;
see `patient360 bench-generate --help`."""

import sys

from patient360.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench-generate", *sys.argv[1:]]))
