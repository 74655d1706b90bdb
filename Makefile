# patient360: two commands do everything (see README "Quick start").
#   make demo   generate synthetic exports and run the whole pipeline through Airflow
#   make test   run the test suite (what CI runs)
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export AIRFLOW_HOME := $(CURDIR)/.airflow

.PHONY: demo test lint bench clean venv compose-validator

venv: $(STAMP)

# Reused when requirements.lock and pyproject.toml are unchanged.
$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=python3 ...'"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/patient360 demo

test: $(STAMP) compose-validator
	$(BIN)/python -m pytest

# Debian's docker-compose validates docker-compose.yml in the tests (no Docker engine needed).
compose-validator:
	@command -v docker-compose >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		(apt-get install -y -qq docker-compose >/dev/null 2>&1 || \
		 (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq docker-compose >/dev/null 2>&1)) ; } || \
		echo "note: docker-compose not installed; the compose validation test will skip outside CI"

lint: $(STAMP)
	$(BIN)/ruff check src tests dags scripts
	$(BIN)/sqlfluff lint dbt_project/models

bench: $(STAMP)
	$(BIN)/python scripts/bench_all.py

clean:
	rm -rf warehouse .airflow exports dbt_project/target dbt_project/logs
