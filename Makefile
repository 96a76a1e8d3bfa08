# One front door for checks: `make test`, `make lint`, `make demo` (STYLE.md habit 10).
# Each target creates or refreshes its own virtualenv in .venv from pyproject.toml.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed-stamp

.PHONY: venv demo test test-fast lint format services bench clean golden

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "tocsin needs Python 3.11 or newer, found " + sys.version.split()[0]'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

demo: venv
	$(VENV)/bin/tocsin demo

services:
	@ops/ensure-services.sh

golden: venv  # regenerate the demo's golden packet and weekly summary (docs/reports.md)
	$(PY) -m tests.golden.regenerate

# Two pytest-xdist workers: the end-to-end tests mostly wait on real processes, so two run side by
# side on two cores; each worker has its own Redis db and PostgreSQL database (tests/conftest.py).
# --maxschedchunk 1 hands out one test at a time, so the long e2e tests (put first under xdist by
# tests/conftest.py) are shared between the workers. `make test TEST_WORKERS=0`: one process.
TEST_WORKERS ?= 2

test: venv services
	$(PY) -m pytest -q -n $(TEST_WORKERS) --maxschedchunk 1 $(PYTEST_ARGS)

test-fast: venv
	TOCSIN_SKIP_POSTGRES=1 TOCSIN_SKIP_REDIS=1 TOCSIN_SKIP_BROWSER=1 $(PY) -m pytest -q -m 'not e2e' $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: venv
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) bench/nab_bench.py
	$(PY) bench/detect_latency.py
	$(PY) bench/sentiment_bench.py

clean:
	rm -rf $(VENV) .tocsin .pytest_cache .mypy_cache .ruff_cache
