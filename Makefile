# The two commands of the README's quick start, and a few for developers.
# `make run` installs ai-bot with its runtime dependencies only; `make test` and `make lint` add
# the test tools. Both create .venv on first use and work on a fresh machine with Python 3.11+.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check
# The stamps carry pyproject.toml's checksum: a changed dependency list reinstalls.
HASH   := $(shell cksum < pyproject.toml | cut -d' ' -f1)
RUNTIME_STAMP := $(VENV)/.runtime-$(HASH)
TEST_STAMP    := $(VENV)/.test-$(HASH)
# pytest-xdist: one worker per CPU; all tests of a file run on one worker, in order, so a module's
# fixtures (a fuzz rig, an in-process console) are built once.
PYTEST_PARALLEL ?= -n auto --dist loadfile

# The lock files pin what pyproject.toml's ranges resolve to, for Linux and macOS on Python 3.11+.
UV      := $(firstword $(wildcard $(BIN)/uv) uv)
COMPILE := $(UV) pip compile pyproject.toml --universal --python-version 3.11 --quiet

.PHONY: run test lint lock audit bench locust clean api-docs sqlite-schema

$(RUNTIME_STAMP):
	@$(PYTHON) -c 'import sys; sys.exit("ai-bot needs Python 3.11 or newer (found %s)" % sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PIP) -e .
	@rm -f $(VENV)/.runtime-*
	@touch $@

$(TEST_STAMP): $(RUNTIME_STAMP)
	$(PIP) -e '.[test]'
	@rm -f $(VENV)/.test-*
	@touch $@

## run: install into .venv (runtime dependencies only) and start the gateway on 127.0.0.1:18789
## (SQLite under ./data). Ctrl-C stops the gateway cleanly; it then exits 130 (interrupted),
## which the trap turns into success so make does not report "Error 130".
run: $(RUNTIME_STAMP)
	@trap 'exit 0' INT; $(BIN)/ai-bot run

## test: install the test tools, lint, check formatting and types, run the whole suite in parallel
## (PYTEST_ARGS adds pytest options; PYTEST_PARALLEL= runs it in one process)
test: lint
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src tests

## lock: pin the dependency set after any change to pyproject.toml's dependencies
## (requirements.lock: runtime; requirements-test.lock: runtime + the test tools); commit both
lock:
	$(COMPILE) -o requirements.lock
	$(COMPILE) --extra test -o requirements-test.lock

## audit: known vulnerabilities (PyPI's advisory data, needs https://pypi.org) in the locked set
audit: $(TEST_STAMP)
	$(BIN)/pip-audit --strict --progress-spinner off --no-deps --disable-pip -r requirements-test.lock

## bench: throughput, latency, memory and cold start against a zero-latency fake model
bench: $(RUNTIME_STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

## locust: Locust headless against a gateway on the fake model (or HOST=https://… a real one,
## with AIBOT_API_KEY), USERS simulated people for DURATION; prints Locust's table
USERS    ?= 20
DURATION ?= 60s
locust: $(TEST_STAMP)
	$(BIN)/python bench/locust_run.py --users $(USERS) --duration $(DURATION) $(if $(HOST),--host $(HOST)) $(LOCUST_ARGS)

## api-docs: write docs/api/openapi.json and docs/api/schema.graphql from the code (a test
## fails when they drift)
api-docs: $(RUNTIME_STAMP)
	$(BIN)/python -m aibot.gateway.api_documents docs/api

## sqlite-schema: write src/aibot/store/sqlite_schema.sql, the schema a first start creates on a
## SQLite file without SQLAlchemy, from store/schema.py (a test fails when it drifts)
sqlite-schema: $(RUNTIME_STAMP)
	$(BIN)/python -m aibot.store.sqlite_ddl

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
