# The two commands of the README:
#   make demo   – install loopml with the demo's libraries and run `loopml demo`
#   make test   – install the dev tools, then lint, type-check and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test test-quick lint typecheck install-dev install-demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[demo]'
	touch $@

install-dev: $(VENV)/.dev-installed
install-demo: $(VENV)/.demo-installed

demo: install-demo
	$(BIN)/loopml demo

lint: install-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

typecheck: install-dev
	$(BIN)/mypy

# Servers the tests need (PostgreSQL, an S3-compatible server) are started and stopped by
# the test fixtures; LOOPML_REQUIRE_SERVICES=1 makes a missing one a failure, not a skip.
test: install-dev lint typecheck
	bash scripts/install-system-deps.sh
	LOOPML_REQUIRE_SERVICES=1 $(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

# The quick loop for development: no slow integration tests, no lint.
test-quick: install-dev
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist src/*.egg-info
