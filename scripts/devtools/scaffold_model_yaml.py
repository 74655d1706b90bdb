"""Kept for old habits: `patient360 dev scaffold-yaml` (add missing entries to the dbt
folder YAMLs). The CLI is the front door; see `patient360 dev scaffold-yaml --help`."""

import sys

from patient360.cli import main

if __name__ == "__main__":
    sys.exit(main(["dev", "scaffold-yaml", *sys.argv[1:]]))
