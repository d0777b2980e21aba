# Two commands do everything: `make demo` and `make test`. Both build .venv from the lock first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export GX_ANALYTICS_ENABLED := false
export DAGSTER_DISABLE_TELEMETRY := 1

.PHONY: setup demo test test-all test-postgres chaos lint dev lock clean bench-warehouse

$(BIN)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	mkdir -p $(DAGSTER_HOME) && cp -n dagster.yaml $(DAGSTER_HOME)/dagster.yaml || true
	touch $@

setup: $(BIN)/.installed

## Run the main job on the demo workspace for the last full day and print the daily digest.
demo: setup
	$(BIN)/digest-demo $(ARGS)

## The default (fast) test suite plus lint and type check.
test: setup
	$(BIN)/ruff check digest_pipeline digest_pipeline_tests benchmarks
	$(BIN)/pyright
	$(BIN)/pytest -n 2 $(ARGS)

## Everything, including tests marked slow.
test-all: setup
	$(BIN)/pytest -n 2 -m "slow or not slow" $(ARGS)

## Only the hostile-input, crash and fault probes (they also run in `make test`).
chaos: setup
	CI=true $(BIN)/pytest -n 2 -m chaos $(ARGS)

## Only the PostgreSQL tests (a server at DIGEST_TEST_DATABASE_URL or 127.0.0.1:5432).
test-postgres: setup
	CI=true $(BIN)/pytest -n 2 -m integration $(ARGS)

## PostgreSQL against DuckDB: 1M messages loaded, partitions replaced (see README).
bench-warehouse: setup
	$(BIN)/python benchmarks/warehouse.py $(ARGS)

lint: setup
	$(BIN)/ruff check digest_pipeline digest_pipeline_tests benchmarks
	$(BIN)/ruff format --check digest_pipeline digest_pipeline_tests benchmarks
	$(BIN)/pyright

## The Dagster UI on http://127.0.0.1:3000, its partitions starting on the first day `make demo` ran.
## Quiet: warnings and errors only. Run from $(DAGSTER_HOME), so the top-level dagster.yaml (the
## template `make setup` copies there) is not mistaken for the instance's; the project's .env is
## loaded first, as `dagster dev` would from the project folder.
dev: setup
	@echo "Dagster UI: http://127.0.0.1:3000 (Ctrl-C to stop)"
	@set -a; [ ! -f .env ] || . ./.env; set +a; \
	cd $(DAGSTER_HOME) && PYTHONWARNINGS=ignore::FutureWarning \
		DIGEST_START_DATE="$${DIGEST_START_DATE:-$$(cat demo-start-date 2>/dev/null)}" \
		$(CURDIR)/$(BIN)/dagster dev -m digest_pipeline.definitions -d $(CURDIR) \
		-h 127.0.0.1 -p 3000 --log-level warning

## Re-resolve the pinned dependency set after editing pyproject.toml.
lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .dagster_home data
