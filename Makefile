# Both targets bootstrap their own virtualenv; nothing relies on what an earlier run left.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test lint typecheck unit bench clean venv

venv:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -e '.[test]'

# Push, pull, show and verify on the embedded local store (a folder; no server, no credentials).
demo: venv
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

lint: venv
	$(BIN)/ruff check
	$(BIN)/ruff format --check

typecheck: venv
	$(BIN)/mypy

# Everything: lint, types, unit, property and integration tests (SeaweedFS started by fixtures).
test: venv lint typecheck
	$(BIN)/python -m pytest tests -q

# The quick inner loop: no servers.
unit:
	$(BIN)/python -m pytest tests -q -m 'not integration'

# Throughput tables: modelshelf against cp, boto3, s5cmd and hf-style downloads, same run.
bench: venv
	$(PIP) install -e '.[test,bench]'
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .demo .mypy_cache .pytest_cache .ruff_cache
