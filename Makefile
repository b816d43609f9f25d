# The two entry points of the README, plus helpers. Everything runs inside .venv.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo check components lint typecheck test bench results results-lwa clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

## The main job on embedded defaults (real traces from ../shared/data when present).
demo: $(STAMP)
	$(BIN)/carbonshift demo

## Lint, type checks and the whole test suite (with the real components it runs).
check: $(STAMP) components lint typecheck test

## Slurm + munge, Chromium, PostgreSQL from Debian when missing (apt-get: needs root).
components:
	bash .ci/components.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP)
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/pip install -q -e '.[dev,bench]'
	$(BIN)/python benchmarks/bench_signals.py
	$(BIN)/python benchmarks/bench_planner.py
	$(BIN)/python benchmarks/bench_accounting.py
	$(BIN)/python benchmarks/bench_forecast.py

## The 2022 policy comparison over every zone (minutes; writes results/) and the EuroSys'24 reproduction.
results: $(STAMP)
	$(BIN)/python benchmarks/results.py --paper

## Let's Wait Awhile (Wiesner et al., Middleware'21) reproduced (minutes; writes results/lets_wait_awhile.md).
results-lwa: $(STAMP)
	$(BIN)/python benchmarks/lets_wait_awhile.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
