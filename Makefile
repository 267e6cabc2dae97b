# edge — the two commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: all demo test bench lint typecheck pytest deps venv clean help

help:
	@echo "make demo   run the node on the synthetic street camera with a local broker; Ctrl-C stops it"
	@echo "make test   ruff, mypy and the whole pytest suite"
	@echo "make bench  measure every stage on this machine (bench/results.json)"

all: test

# The virtual environment, rebuilt when the package's dependencies change.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

venv: $(STAMP)

# System packages the node and its tests need (mosquitto broker, fonts for the plate renderer).
deps:
	@scripts/ensure-system-deps.sh

demo: venv deps
	@scripts/demo.sh

lint: venv
	$(VENV)/bin/ruff check edge tests scripts bench
	$(VENV)/bin/ruff format --check edge tests scripts bench

typecheck: venv
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --strict bench

pytest: venv deps
	$(VENV)/bin/pytest -q

test: lint typecheck pytest

# Measured speed on this machine: bench/results.json and a table (see docs/performance.md).
bench: venv deps
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .demo
