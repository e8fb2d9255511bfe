# The two newcomer commands are `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run once test lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install  ## set up, then run the worker and server on the embedded default config
	$(BIN)/syndication run

once: install  ## one full cycle on the default config, then exit
	$(BIN)/syndication once

# The PostgreSQL half runs on a throwaway server when PostgreSQL is installed (or at
# $SYNDICATION_TEST_POSTGRES); the last lines say whether it ran, or why not. The test files
# run on every core, at most 4 (pytest-xdist; a file's tests stay in one process, as its
# fixtures are shared); `.venv/bin/python -m pytest` alone runs them in one.
test: install  ## set up, then run the whole test suite (pytest's "no tests" is a failure)
	$(BIN)/python -m pytest -n auto --maxprocesses=4 --dist loadfile; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install  ## the benchmarks in bench/ (slow; results go to bench/README.md by hand)
	for script in bench/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) data public .pytest_cache .ruff_cache
