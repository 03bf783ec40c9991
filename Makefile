# Bookwell: `make run` serves the demo, `make test` runs every check. Both install what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV ?= .venv
PORT ?= 8000
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export BOOKWELL_DATA_DIR ?= $(CURDIR)/var

.PHONY: messages help install run demo test lint typecheck migrations-check test-sqlite test-postgres browser bench clean

help:
	@echo "make run    - install, migrate, seed the demo clinic and serve http://127.0.0.1:$(PORT)"
	@echo "make test   - install and run every check (lint, types, migrations, SQLite and PostgreSQL suites)"
	@echo "make bench  - run the benchmarks under bench/"

$(STAMP): pyproject.toml scripts/find-python
	@PY=$$(scripts/find-python) || exit 1; \
	  if [ ! -x $(BIN)/python ]; then echo "Creating $(VENV) with $$PY"; "$$PY" -m venv $(VENV) || exit 1; fi
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The worker runs beside the server and stops with it; development mail goes to var/outbox/.
run: install
	$(BIN)/bookwell migrate --noinput
	$(BIN)/bookwell demo
	@$(BIN)/bookwell worker & WORKER=$$!; trap 'kill $$WORKER 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/bookwell serve --bind 127.0.0.1:$(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy bookwell tests bench scripts/cluster_test.py

migrations-check: install
	$(BIN)/bookwell makemigrations --check --dry-run

browser:
	@scripts/ensure-chromium
	@scripts/ensure-node-tools
	@scripts/ensure-ops-tools

test-sqlite: install browser
	DATABASE_URL= $(BIN)/pytest

test-postgres: install browser
	@$(BIN)/python scripts/test-postgres.py $(BIN)/pytest

test: lint typecheck migrations-check test-sqlite test-postgres cluster-test

# Two app processes behind nginx, two workers, PostgreSQL, Redis and an SMTP sink, under load
# while processes are killed (scripts/cluster_test.py; about a minute and a half).
cluster-test: install browser
	$(BIN)/python scripts/cluster_test.py

# Every benchmark on the embedded SQLite, then the two load benchmarks on PostgreSQL (their
# goals are stated for it), each in a throwaway database.
bench: install
	@for b in bench/*.py; do case "$${b##*/}" in _*) continue;; esac; echo "== $$b"; DATABASE_URL= $(BIN)/python "$$b" || exit 1; done
	@$(BIN)/python scripts/bench-postgres.py bench/http_load.py bench/api_load.py

clean:
	rm -rf $(VENV) build *.egg-info

# After marking new text: extract it, fill in German from scripts/translations/de.json, compile.
messages: install
	cd bookwell && ../$(BIN)/bookwell makemessages -l de --no-obsolete -e html,txt,py,md
	$(BIN)/python scripts/po_fill.py bookwell/locale/de/LC_MESSAGES/django.po scripts/translations/de.json
	cd bookwell && ../$(BIN)/bookwell compilemessages -l de
