# Every target works on a fresh clone: the virtualenv, the npm packages the browser tests
# inject (axe-core), Debian's Chromium and PostgreSQL (for the record store tests) are
# installed on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install test lint typecheck unit browser demo demo-flask bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed
	bash scripts/ensure-chromium
	bash scripts/ensure-postgres

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check consent_middleware tests examples bench
	$(VENV)/bin/ruff format --check consent_middleware tests examples bench

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

test: install lint typecheck
	$(PY) -m pytest $(PYTEST_ARGS)

demo: $(VENV)/.installed
	@echo "Integrica (FastAPI) on http://$(HOST):$(PORT)/"
	$(VENV)/bin/uvicorn examples.fastapi_app.app:app --host $(HOST) --port $(PORT)

demo-flask: $(VENV)/.installed
	@echo "Integrica (Flask, under waitress) on http://$(HOST):$(PORT)/"
	$(VENV)/bin/waitress-serve --host $(HOST) --port $(PORT) examples.flask_app.app:app

# In process, end to end (uvicorn and gunicorn driven by Debian's wrk), the banner's paint time
# in Debian's Chromium against vanilla-cookieconsent (npm pack), the banner's size: ~8 minutes.
bench: $(VENV)/.installed
	bash scripts/ensure-wrk
	bash scripts/ensure-chromium
	$(PY) -m bench.run --write docs/benchmarks.md

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .pytest_cache .hypothesis
