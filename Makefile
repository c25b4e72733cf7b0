# mesascope: `make run` starts the service on the embedded default; `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --disable-pip-version-check -c constraints.txt

.PHONY: run test install install-test lint openapi browser clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml constraints.txt | $(PY)
	$(PIP) torch==2.13.0
	$(PIP) -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(VENV)/bin/mesascope serve $(ARGS)

test: install-test browser
	$(PY) -m pytest $(PYTEST_ARGS)

# The dashboard's browser tests drive Debian's Chromium through Playwright (no browser download).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else echo "note: /usr/bin/chromium is missing; browser tests will be skipped (CI fails)"; fi; \
	fi

lint: install-test
	$(VENV)/bin/ruff check irl service tests
	$(VENV)/bin/mypy irl service

openapi: install
	$(PY) -m service.openapi > openapi.yaml

clean:
	rm -rf $(VENV) mesascope-data .pytest_cache
