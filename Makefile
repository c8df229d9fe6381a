# Two commands on a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo demo-reset test lint bench-webhook bench-needs bench-events bench-push bench-chaos bench-console bench-preview bench-dashboard bench-exports clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/aixiang demo

# The demo from empty data: its database, media, clock and pushes deleted first.
demo-reset: $(STAMP)
	$(VENV)/bin/aixiang demo --fresh

test: $(STAMP)
	$(VENV)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check bot handlers models scheduler texts tests bench
	$(VENV)/bin/ruff format --check bot handlers models scheduler texts tests bench
	$(VENV)/bin/mypy

bench-webhook: $(STAMP)
	$(VENV)/bin/python bench/webhook.py

bench-needs: $(STAMP)
	$(VENV)/bin/python bench/needs.py

bench-events: $(STAMP)
	$(VENV)/bin/python bench/events.py

bench-push: $(STAMP)
	$(VENV)/bin/python bench/push.py

# The real processes on a PostgreSQL and a Redis of the bench's own, one fault a phase.
bench-chaos: $(STAMP)
	$(VENV)/bin/python bench/chaos.py

bench-console: $(STAMP)
	$(VENV)/bin/python bench/console.py

# A broadcast's preview over 1,000,000 residents, in a database of its own.
bench-preview: $(STAMP)
	$(VENV)/bin/python bench/preview.py

# The impact dashboard's page for every period and filter, and a broadcast's fan-out to
# 900,000 followers (`--reuse --only dashboard|fanout` for one part on a kept database).
bench-dashboard: $(STAMP)
	$(VENV)/bin/python bench/dashboard.py
# The needs export of 200,000 needs as XLSX and CSV, in a PostgreSQL database of its own.
bench-exports: $(STAMP)
	$(VENV)/bin/python bench/exports.py

clean:
	rm -rf $(VENV) instance .pytest_cache
