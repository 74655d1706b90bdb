# patient360: two commands do everything (see README "Quick start").
#   make demo   generate synthetic exports and run the whole pipeline through Airflow
#   make test   run the test suite (what CI runs)
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export AIRFLOW_HOME := $(CURDIR)/.airflow

.PHONY: airflow demo test test-fast lint bench clean venv compose-validator chromium bi-test

venv: $(STAMP)

# Reused when requirements.lock and pyproject.toml are unchanged.
$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=python3 ...'"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

# A complete local Airflow 3 on this project (UI on http://127.0.0.1:8080); Ctrl-C stops it.
airflow: $(STAMP)
	$(BIN)/patient360 airflow

demo: $(STAMP)
	$(BIN)/patient360 demo

# CI runs exactly this: lint first, then every test. Test files run in parallel, one worker per
# core (at most 4: each real dbt build, Airflow or Spark run is a process tree of its own); a
# file's tests stay on one worker, so its module fixtures are built once. PYTEST_WORKERS=0 runs
# them in this process, one after another.
PYTEST_WORKERS ?= auto
test: lint compose-validator chromium
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --maxprocesses 4 --dist loadfile

# Everything but the real dbt builds, Airflow runs and the benchmark smoke run (marked slow).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -n $(PYTEST_WORKERS) --maxprocesses 4 --dist loadfile

# Superset dashboards as code (bi/superset/): imported into a real Apache Superset, in its own
# environment (Superset pins SQLAlchemy 1.4 and pandas 2), and every chart run against a fresh
# release. About 2 minutes plus a dbt build; building .venv-superset the first time, 3-4 more.
SUPERSET_VENV := .venv-superset
SUPERSET_STAMP := $(SUPERSET_VENV)/.installed

$(SUPERSET_STAMP): requirements-superset.lock
	@test -x $(SUPERSET_VENV)/bin/python || $(PYTHON) -m venv $(SUPERSET_VENV)
	$(SUPERSET_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SUPERSET_VENV)/bin/python -m pip install --quiet -r requirements-superset.lock
	@touch $@

bi-test: $(STAMP) $(SUPERSET_STAMP)
	P360_SUPERSET_PYTHON=$(CURDIR)/$(SUPERSET_VENV)/bin/python $(BIN)/python -m pytest -m bi tests/test_superset_dashboards.py

# Debian's docker-compose validates docker-compose.yml in the tests (no Docker engine needed).
compose-validator:
	@command -v docker-compose >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		(apt-get install -y -qq docker-compose >/dev/null 2>&1 || \
		 (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq docker-compose >/dev/null 2>&1)) ; } || \
		echo "note: docker-compose not installed; the compose validation test will skip outside CI"

# Debian's chromium opens the KPI report and the evidence page in the browser tests (headless, offline).
chromium:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		(apt-get install -y -qq chromium >/dev/null 2>&1 || \
		 (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1)) ; } || \
		echo "note: chromium not installed; the browser tests will skip outside CI"

# Style and types. sqlfluff's dbt templater compiles through the profile's throwaway
# in-memory `lint` target (.sqlfluff), so no warehouse or pseudonym key is needed.
lint: $(STAMP)
	$(BIN)/ruff format --check src tests dags scripts
	$(BIN)/ruff check src tests dags scripts
	$(BIN)/sqlfluff lint --processes 2 dbt_project/models
	$(BIN)/mypy

# The benchmark through the CLI (docs/benchmarks.md; `patient360 bench -h` for options). The default
# takes tens of minutes; the full 10k/100k/1M ladder: make bench BENCH_ARGS="--repeat 3,3,1".
BENCH_ARGS ?= --patients 10000,100000 --repeat 3

bench: $(STAMP)
	$(BIN)/patient360 bench $(BENCH_ARGS)

clean:
	rm -rf warehouse .airflow exports dbt_project/target dbt_project/logs
