# PixyProxy: `make run` serves on http://127.0.0.1:8000, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install lock run test lint format bench up down clean

install: $(INSTALLED) ## create or update .venv with the service and its development tools

$(INSTALLED): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(INSTALLED)

lock: ## re-pin the runtime dependencies in requirements.lock after changing pyproject.toml
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet .
	{ sed -n '1,2p' requirements.lock; .lock-venv/bin/python -m pip freeze --exclude pixyproxy; } > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .lock-venv

run: install ## serve on PIXY_HOST:PIXY_PORT (127.0.0.1:8000) with the settings in the environment
	$(BIN)/python -m app

test: install ## every test; MySQL ones use PIXY_TEST_MYSQL_URL, browser ones Debian's chromium
	$(BIN)/python -m pytest

lint: install ## ruff (lint and format check) and mypy
	$(BIN)/ruff check app tests
	$(BIN)/ruff format --check app tests
	$(BIN)/mypy

format: install ## apply ruff's formatting and safe fixes
	$(BIN)/ruff format app tests
	$(BIN)/ruff check --fix app tests

bench: install ## benchmarks: prints tables, writes bench-results.md (BENCH="load content listing search generation events variants")
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) \
		|| echo "could not install wrk: the load benchmark will be skipped"
	$(BIN)/python -m tests.bench $(BENCH)

up: ## the whole stack (MySQL, MinIO, PixyProxy) in Docker
	docker compose -f infra/docker-compose.yml up --build -d

down:
	docker compose -f infra/docker-compose.yml down

clean: ## remove the virtual environment and caches (not your database or images)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
