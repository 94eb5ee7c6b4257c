# The two commands of the README's quick start, and their helpers.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test setup lint typecheck unit bench bench-compare clean

setup:
	@scripts/setup.sh

demo: setup
	@scripts/demo.sh

test: setup lint typecheck unit

lint:
	$(BIN)/ruff check scraper tests bench
	$(BIN)/lint-imports

typecheck:
	$(BIN)/mypy

unit:
	$(BIN)/pytest

bench: setup
	$(BIN)/python bench/run.py

# Side by side with Scrapy + scrapy-playwright and Crawlee (installed in bench/.venv-peers).
bench-compare: setup
	bench/setup_peers.sh
	$(BIN)/python bench/compare.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache scrape-data media
