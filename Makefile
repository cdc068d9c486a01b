# journeys — the commands. `make demo` runs the main job end to end; `make test` runs every test.
VENV := .venv
BIN := $(VENV)/bin
PYTEST := $(BIN)/pytest

.PHONY: setup demo test test-unit test-flink test-e2e lint up down status bench clean

setup: ## install everything (idempotent): .venv, JVM jars, redis-server
	@bash scripts/setup.sh

demo: setup ## start the local services and run the main pipeline end to end
	@$(BIN)/journeys demo

test: setup ## lint, then all three test tiers; services are started and stopped by the tests
	$(BIN)/ruff check .
	$(PYTEST)

test-unit: setup
	$(PYTEST) -m unit

test-flink: setup
	$(PYTEST) -m flink

test-e2e: setup
	$(PYTEST) -m e2e

lint: setup
	$(BIN)/ruff check .

up: setup ## start Kafka, Redis and SMTP
	@$(BIN)/journeys services up

down: ## stop every service journeys started
	@if [ -x $(BIN)/journeys ]; then $(BIN)/journeys services down; fi

status:
	@$(BIN)/journeys services status

bench: setup ## benchmarks of issue 6 (about 25 minutes): bench/results/bench-*.json and the README table
	$(BIN)/python -m bench.suite

clean: down ## stop services and delete local data and logs (.journeys/)
	rm -rf .journeys
