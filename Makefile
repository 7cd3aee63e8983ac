# Run `make` or `make help` for the list of targets.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
# Extra pytest arguments, e.g. `make test-app ARGS="-x -k balance"`.
ARGS ?=

.PHONY: help install run test test-pure test-app test-unit test-property test-integration test-browser lint typecheck fmt openapi bench reliability openapi-assets screenshots clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: ## Create .venv and install the project with dev extras (skipped if up to date)
	@bash scripts/_venv.sh

run: ## Start the API (scripts/run.sh; SQLite in var/ by default)
	@bash scripts/run.sh $(ARGS)

test: ## Static checks, then every tier: pure, app, property, integration (Postgres), reliability
	@bash scripts/test.sh $(ARGS)

test-pure: ## Static checks, then the pure tier: tests/domain (builds no application)
	@bash scripts/test.sh tests/domain $(ARGS)

test-app: ## Static checks, then the app tier: tests/ledger, tests/api, tests/projections (in memory)
	@bash scripts/test.sh tests/ledger tests/api tests/projections $(ARGS)

test-unit: ## Static checks, then the pure and app tiers (no Postgres needed)
	@bash scripts/test.sh tests/domain tests/ledger tests/api tests/projections $(ARGS)

test-property: ## Static checks, then tests/property
	@bash scripts/test.sh tests/property $(ARGS)

test-integration: ## Static checks, then tests/integration (throwaway Postgres)
	@bash scripts/test.sh tests/integration $(ARGS)

test-browser: ## Static checks, then tests/browser (the console in chromium)
	@bash scripts/test.sh tests/browser $(ARGS)

lint: install ## ruff check, ruff format --check, lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install ## mypy (strict, config in pyproject.toml)
	$(BIN)/mypy

fmt: install ## Format and autofix: ruff format, ruff check --fix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

openapi: install ## Regenerate docs/openapi.json from the app (after a deliberate API change)
	$(BIN)/python scripts/openapi.py

bench: ## Run benchmarks (scripts/bench.sh)
	@if [[ -f scripts/bench.sh ]]; then \
		bash scripts/bench.sh $(ARGS); \
	else \
		echo "bench: not yet implemented (scripts/bench.sh is missing)" >&2; \
		exit 1; \
	fi

reliability: ## Long reliability run: crashes, soak, hostile input (scripts/reliability.sh)
	@bash scripts/reliability.sh $(ARGS)

openapi-assets: install ## Refetch the API docs pages' vendored scripts (npm pack; api/openapi_ui.py)
	$(BIN)/python scripts/fetch_openapi_assets.py

screenshots: install ## PNG of every console page on a demo ledger, into docs/console/
	@bash scripts/_browser.sh
	$(BIN)/python -m tests.browser.screenshots docs/console

clean: ## Remove caches and build artefacts (keeps .venv and var/)
	rm -rf .mypy_cache .ruff_cache .pytest_cache .hypothesis build dist
	find . -path ./.venv -prune -o -name '*.egg-info' -type d -prune -exec rm -rf {} +
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
