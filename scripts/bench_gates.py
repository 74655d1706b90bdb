"""Kept for old habits: `patient360 bench-gates` (the gates on synthetic 100k/1M-row marts). The CLI is the front door;
see `patient360 bench-gates --help`."""

import sys

from patient360.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench-gates", *sys.argv[1:]]))
