# Two commands a new user needs: `make app` and `make test`. Everything else is for developers.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The package and every extra, as `make` installs them (`make lock` pins the same set).
PACKAGE := -e ".[all,dev]"

# `make test` skips suites marked slow (browser, Dask cluster, large cohorts) unless CI or
# RISKCALC_SLOW is set; CI runs everything.
ifeq ($(or $(CI),$(RISKCALC_SLOW)),)
PYTEST_MARK := -m "not slow and not fuzz"
else
PYTEST_MARK := -m "not fuzz"
endif

.PHONY: install app test lint typecheck pytest bench model fuzz screenshots lock clean

# Installed at the versions in constraints.txt, the set the whole suite last passed with: a fresh
# clone tested later gets the same packages, not whatever was released since. `make lock` renews it.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt $(PACKAGE)
	touch $(STAMP)

install: $(STAMP)

app: $(STAMP)
	$(BIN)/riskcalc app

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_MARK) --doctest-modules riskcalc tests

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m bench

# The default model in models/default/, trained on a simulated cohort with a fixed seed.
model: $(STAMP)
	$(BIN)/python -m riskcalc.model.build_default

fuzz: $(STAMP)
	RISKCALC_FUZZ_EXAMPLES=$${RISKCALC_FUZZ_EXAMPLES:-4000} $(BIN)/pytest -m fuzz tests/test_fuzz.py -p no:randomly

# The pictures of the docs (docs/images/), taken by the browser tests in headless Chromium.
screenshots: $(STAMP)
	RISKCALC_SCREENSHOT_DIR=$(CURDIR)/docs/images $(BIN)/pytest tests/app/test_app_browser.py tests/app/test_app_smart_browser.py

# constraints.txt from the newest releases pyproject.toml allows, installed in a scratch
# environment; then run `make test` (and CI) before committing it.
LOCK_VENV := .lock-venv
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install --quiet $(PACKAGE)
	{ echo "# Written by \`make lock\`: the versions \`make install\` uses (pip -c). Ranges: pyproject.toml."; \
	  $(LOCK_VENV)/bin/python -m pip --version | awk '{print "pip==" $$2}'; \
	  $(LOCK_VENV)/bin/python -m pip freeze --exclude-editable; } > constraints.txt
	rm -rf $(LOCK_VENV)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
