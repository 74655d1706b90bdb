"""`python -m patient360 ...` is the `patient360` command (see cli.py)."""

import sys

from patient360.cli import main

sys.exit(main())
