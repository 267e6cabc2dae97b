# edge — the two commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: all demo test bench soak models lint typecheck pytest deps venv clean help

help:
	@echo "make demo   run the node on the synthetic street camera with a local broker; Ctrl-C stops it"
	@echo "make test   ruff, mypy and the whole pytest suite"
	@echo "make bench  measure every stage on this machine (bench/results.json)"
	@echo "make soak   an hour on the synthetic camera with broker outages, 20 SIGKILLs, long fuzz runs (bench/soak.json)"
	@echo "make models train the plate detector and reader from scratch (tensorflow-cpu; about an hour on 2 cores)"

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
	$(VENV)/bin/ruff check edge tests scripts bench models
	$(VENV)/bin/ruff format --check edge tests scripts bench models

typecheck: venv
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --strict bench

pytest: venv deps
	$(VENV)/bin/pytest -q

test: lint typecheck pytest

# Measured speed on this machine: bench/results.json and a table (see docs/performance.md).
bench: venv deps
	$(PY) -m bench

# Loss and memory over time (SOAK_SECONDS, default 3600; broker bounced every SOAK_BOUNCE_EVERY_S=120 for
# SOAK_DOWN_S=20), then the node SIGKILLed KILL_CYCLES times (default 20), then the property tests with
# FUZZ_EXAMPLES examples each (default 100000).
FUZZ_TESTS := tests/test_commands_parse.py tests/test_config_fuzz.py tests/test_anpr_hotlist.py tests/test_privacy_geometry.py tests/test_anpr_grammar.py
KILL_CYCLES ?= 20
soak: venv deps
	$(PY) -m bench.soak
	KILL_CYCLES=$(KILL_CYCLES) $(VENV)/bin/pytest -q tests/test_node_sigkill.py
	HYPOTHESIS_PROFILE=soak $(VENV)/bin/pytest -v --durations=20 $(FUZZ_TESTS)

# Model training: its own environment (tensorflow-cpu never goes near a node). Generated training data is
# cached under build/models-cache by recipe; `make models` starts from scratch unless MODELS_CACHE=keep.
TRAIN_VENV := .venv-train
TRAIN_STAMP := $(TRAIN_VENV)/.installed
$(TRAIN_STAMP): pyproject.toml
	$(PYTHON) -m venv $(TRAIN_VENV)
	$(TRAIN_VENV)/bin/pip install --quiet --upgrade pip
	$(TRAIN_VENV)/bin/pip install --quiet -e '.[train,litert]'
	touch $@

models: $(TRAIN_STAMP) venv
	@scripts/ensure-system-deps.sh --train
	@[ "$(MODELS_CACHE)" = "keep" ] || rm -rf build/models-cache
	$(TRAIN_VENV)/bin/python -m models.training.train_all
	$(PY) -m models.training.cards

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .demo
