# GrowthKit Activity: `make run` opens the console on a live demo (the server on SQLite with
# history and live traffic); `make test` installs the dev dependencies and runs the suite.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PYTHON ?= python3

.PHONY: run test lint install dev bench clean tracker

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e ".[all]"
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed pyproject.toml
	$(PIP) install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

# The browser tests' React, TypeScript and terser (skipped with a note where npm is missing).
tests/browser/node_modules/.installed: tests/browser/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix tests/browser --no-audit --no-fund --silent && touch $@; else echo "npm not found: the browser tests that need React or tsc will skip"; fi

dev: $(VENV)/.dev-installed tests/browser/node_modules/.installed

run: $(VENV)/.installed
	$(VENV)/bin/growthkit demo

lint: dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

test: dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

# After editing tracker/*.js: minify into tracker/dist/ (what /sdk/ serves; committed).
tracker: tests/browser/node_modules/.installed
	$(PYTHON) tracker/minify.py

bench: dev
	$(PY) benchmarks/ingest.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
