# Reintegration Hub: `make run` serves the demo, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
# `make run`'s ports: the app, the Prefect server and UI, the local mail sink (make run PORT=5055
# PREFECT_PORT=4255 MAIL_PORT=1055); every address of the run follows them
PORT ?= 5000
PREFECT_PORT ?= 4200
MAIL_PORT ?= 1025
# the address links in e-mails and text messages start with (HUB_PUBLIC_BASE_URL): this server,
# unless given; the demo's queued messages are written with it too
PUBLIC_BASE_URL ?= $(or $(HUB_PUBLIC_BASE_URL),http://$(if $(filter 0.0.0.0,$(HOST)),127.0.0.1,$(HOST)):$(PORT))
export FLASK_APP := wsgi

.PHONY: run serve test lint typecheck test-sqlite test-postgres translations bytecode clean bench

$(VENV)/.installed: setup.cfg pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

translations: $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -d reintegration_hub/translations

# the web app, the Prefect server and UI, the scheduled flows and a local mail sink (Procfile)
run: $(VENV)/.installed translations
	@mkdir -p instance/prefect
	$(BIN)/flask db upgrade
	HUB_PUBLIC_BASE_URL=$(PUBLIC_BASE_URL) $(BIN)/flask demo load --if-empty
	@echo "Reintegration Hub on http://$(HOST):$(PORT)/  (API docs: /api/v1/docs)"
	@echo "Prefect UI on http://127.0.0.1:$(PREFECT_PORT)/  (flow runs)"
	@echo "Mail sink on 127.0.0.1:$(MAIL_PORT)  (the mail process prints each e-mail)"
	WEB_HOST=$(HOST) WEB_PORT=$(PORT) PREFECT_PORT=$(PREFECT_PORT) MAIL_PORT=$(MAIL_PORT) \
		HUB_PUBLIC_BASE_URL=$(PUBLIC_BASE_URL) $(BIN)/honcho start

# Production (README, "Running in production"): gunicorn, the Prefect server on PostgreSQL and
# WORKERS workers of its process work pool (Procfile.production). Every setting comes from the
# environment or an .env file; it refuses to start, naming each one missing.
WORKERS ?= 1
serve: $(VENV)/.installed translations bytecode
	@mkdir -p instance/prefect
	@PREFECT_API_URL=$${PREFECT_API_URL:-http://127.0.0.1:$(PREFECT_PORT)/api} \
		$(BIN)/honcho run $(BIN)/python -m reintegration_hub.serving
	$(BIN)/honcho run $(BIN)/flask db upgrade
	PREFECT_API_URL=$${PREFECT_API_URL:-http://127.0.0.1:$(PREFECT_PORT)/api} PREFECT_PORT=$(PREFECT_PORT) \
		$(BIN)/honcho -f Procfile.production start -c worker=$(WORKERS)

# The project's bytecode, written before `make serve` starts: every flow run is a new process
# that imports the application, and where PYTHONDONTWRITEBYTECODE is set (some hosts and
# container images set it) each would compile every module again, 0.25 s of CPU a run. Only
# modules changed since are compiled again.
bytecode: $(VENV)/.installed
	$(BIN)/python -m compileall -q reintegration_hub partners workflows

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed
	$(BIN)/mypy reintegration_hub partners workflows tests

# With PostgreSQL to follow, the browser tests and the orchestrated Prefect runs (about a third
# of the time) run there only: they test pages and flows, not the database under them; so does
# the crawl of every form with hostile input, whose NUL bytes and overflows PostgreSQL refuses.
ONCE_ON_POSTGRES := $(if $(HUB_TEST_DATABASE_URL),-m "not e2e and not orchestrated and not crawl")
# pytest-xdist: TEST_WORKERS processes, each with a database of its own (tests/conftest.py); a
# worker that finishes early takes tests queued for the other (worksteal: a few tests take a
# minute or more). 2 on a 2-core machine: the suite waits on browsers, servers and PostgreSQL.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal

test-sqlite: $(VENV)/.installed translations
	env -u HUB_TEST_DATABASE_URL $(PYTEST) $(ONCE_ON_POSTGRES)

test-postgres: $(VENV)/.installed translations
	@if [ -n "$$HUB_TEST_DATABASE_URL" ]; then \
		echo "== again on PostgreSQL"; $(PYTEST); \
	else echo "HUB_TEST_DATABASE_URL is not set: the PostgreSQL run is skipped"; fi

test: lint typecheck test-sqlite test-postgres

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache

# Marketplace search (SQLite always) and, when HUB_BENCH_DATABASE_URL points at a throw-away
# PostgreSQL database, the same search, the 100,000-case list and the plan page with 300,000
# plan lines there, and the follow-up sweep of 100,000 plans (see bench/README.md).
bench: $(VENV)/.installed
	$(BIN)/python -m bench.marketplace_search
	@if [ -n "$$HUB_BENCH_DATABASE_URL" ]; then \
		$(BIN)/python -m bench.marketplace_search --database-url "$$HUB_BENCH_DATABASE_URL" && \
		$(BIN)/python -m bench.cases_list --database-url "$$HUB_BENCH_DATABASE_URL" && \
		$(BIN)/python -m bench.plan_page --database-url "$$HUB_BENCH_DATABASE_URL" && \
		$(BIN)/python -m bench.track_milestones --database-url "$$HUB_BENCH_DATABASE_URL"; \
	else echo "HUB_BENCH_DATABASE_URL is not set: the PostgreSQL benches are skipped"; fi
