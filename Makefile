# sluicegate developer commands. `make serve` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: serve test bench bench-held bench-workers bench-capacity lint format check clean dashboard

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/sluicegate serve --stop-with-parent $(ARGS)

test: $(STAMP)
	bash scripts/test-deps.sh
	$(BIN)/pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	bash scripts/bench.sh

# Thousands of slow streams held open at once: added TTFT, CPU and RSS per 1,000 open streams.
bench-held: $(STAMP)
	$(BIN)/python scripts/bench/held.py $(ARGS)

# c64 requests/s with --workers 1 and 2, and each worker's memory.
bench-workers: $(STAMP)
	$(BIN)/python scripts/bench/workers.py

# Redis commands, PostgreSQL rows and CPU per request, memory per open stream, Redis ceiling
# of the limit scripts (docs/deployment.md, Capacity). Needs redis-server and PostgreSQL.
bench-capacity: $(STAMP)
	bash scripts/test-deps.sh
	$(BIN)/python scripts/bench_capacity.py

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix src tests
	$(BIN)/ruff format src tests

# The dashboard has no build step (plain ES modules); this re-vendors its one third-party
# asset, uPlot, from the npm registry at a pinned version. Needs npm; installing and running
# sluicegate never do (the files are package data).
UPLOT_VERSION ?= 1.6.32
DASHBOARD_VENDOR := src/sluicegate/dashboard/static/vendor

dashboard:
	rm -rf .dashboard-build && mkdir -p .dashboard-build
	cd .dashboard-build && npm pack --silent uplot@$(UPLOT_VERSION) >/dev/null && tar xzf uplot-$(UPLOT_VERSION).tgz
	cp .dashboard-build/package/dist/uPlot.iife.min.js .dashboard-build/package/dist/uPlot.min.css $(DASHBOARD_VENDOR)/
	cp .dashboard-build/package/LICENSE $(DASHBOARD_VENDOR)/uPlot.LICENSE
	rm -rf .dashboard-build

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
