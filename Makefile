# sluicegate developer commands. `make serve` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: serve test bench bench-capacity lint format check clean

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

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
