# Every target works on a fresh clone: the virtualenv, the npm packages the browser tests
# inject (axe-core), Debian's Chromium and PostgreSQL (for the record store tests) are
# installed on first use.
VENV ?= .venv
DEMO_VENV ?= .venv-demo
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install test lint typecheck unit browser demo demo-flask bench fuzz docs docs-serve clean

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
	bash scripts/ensure-nginx

# Issue 11, load and faults: each example site under its real servers (uvicorn with 2
# workers, Hypercorn, gunicorn with 2 workers, waitress) on SQLite and PostgreSQL, every
# response checked, the keys rotated mid-run; wrk with and without the middleware; faults.
# Loopback only, bounded in requests and time (under 10 minutes on 2 cores); writes
# docs/load.md and exits non-zero on any leak, 5xx or lost record.
.PHONY: load
load: $(VENV)/.installed
	bash scripts/ensure-wrk
	bash scripts/ensure-postgres
	$(PY) -m bench.load --write docs/load.md --benchmarks docs/benchmarks.md

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check consent_middleware tests examples bench
	$(VENV)/bin/ruff format --check consent_middleware tests examples bench

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

# The whole suite under coverage.py; the gate (fail_under in pyproject.toml) is for the
# whole suite: for a subset, run pytest directly.
test: install lint typecheck docs
	$(PY) -m coverage erase
	$(PY) -m coverage run -m pytest $(PYTEST_ARGS)
	$(PY) -m coverage report

# The site, from docs/ into site/, strictly (mkdocs.yml: a broken link, a missing page or a
# bad anchor fails the build). NO_MKDOCS_2_WARNING silences Material's notice about its own
# end of life, which is printed on every build and is no warning about these docs.
docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build

docs-serve: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve --dev-addr $(HOST):$(PORT)

# The demo needs only what it runs: the package with both frameworks and two servers.
$(DEMO_VENV)/.installed: pyproject.toml
	test -x $(DEMO_VENV)/bin/python || python3 -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/python -m pip install -q --upgrade pip
	$(DEMO_VENV)/bin/python -m pip install -q -e '.[fastapi,flask]' uvicorn waitress
	touch $@

demo: $(DEMO_VENV)/.installed
	@echo "Integrica (FastAPI) on http://$(HOST):$(PORT)/"
	$(DEMO_VENV)/bin/uvicorn examples.fastapi_app.app:app --host $(HOST) --port $(PORT)

demo-flask: $(DEMO_VENV)/.installed
	@echo "Integrica (Flask, under waitress) on http://$(HOST):$(PORT)/"
	$(DEMO_VENV)/bin/waitress-serve --host $(HOST) --port $(PORT) examples.flask_app.app:app

# The property tests of tests/test_fuzz.py with 20 times the examples `make test` runs.
fuzz: $(VENV)/.installed
	CONSENT_FUZZ_FACTOR=$${CONSENT_FUZZ_FACTOR:-20} $(PY) -m pytest tests/test_fuzz.py -p no:cacheprovider $(PYTEST_ARGS)

# In process, end to end (uvicorn and gunicorn driven by Debian's wrk), the banner's paint time
# in Debian's Chromium against vanilla-cookieconsent (npm pack), the banner's size: ~8 minutes.
bench: $(VENV)/.installed
	bash scripts/ensure-wrk
	bash scripts/ensure-chromium
	$(PY) -m bench.run --write docs/benchmarks.md

clean:
	rm -rf $(VENV) $(DEMO_VENV) node_modules site .coverage .mypy_cache .ruff_cache .pytest_cache .hypothesis
