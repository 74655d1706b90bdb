"""Benchmark harness: land, dbt, gates, publish, the daily run and side-by-side ratios at
10k, 100k and 1M patients (see src/patient360/benchmark/harness.py for what is measured).

    .venv/bin/python scripts/bench.py [--patients 10000,100000,1000000] [--repeat 3]
    .venv/bin/patient360 bench ...      # the same

Results: bench/results/bench-<timestamp>.json and .md. Not run by `make test` (a smoke
test runs it at a tiny scale).
"""

import sys

from patient360.benchmark.harness import main

if __name__ == "__main__":
    sys.exit(main(prog="scripts/bench.py"))
