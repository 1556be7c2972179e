# The two commands a newcomer needs: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 0.0.0.0
PORT ?= 8080
STAMP := $(VENV)/.installed-stamp
TEST_DATABASE_URL ?= postgres://root@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: install run test lint test-embedded test-pg bench

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	OUTBOUND_ALLOWED_NETWORKS=$${OUTBOUND_ALLOWED_NETWORKS-127.0.0.0/8,::1/128} $(PY) manage.py serve --host $(HOST) --port $(PORT)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports  # the layering contracts in .importlinter

test: lint test-embedded test-pg

test-embedded: install
	@echo "== leg 1 of 2: embedded (SQLite + in-memory channel layer)"
	env -u DATABASE_URL -u REDIS_URL $(VENV)/bin/pytest

test-pg: install
	@echo "== leg 2 of 2: PostgreSQL + Redis ($(TEST_DATABASE_URL), $(TEST_REDIS_URL))"
	@if $(PY) tests/servers_up.py "$(TEST_DATABASE_URL)" "$(TEST_REDIS_URL)"; then \
		DATABASE_URL="$(TEST_DATABASE_URL)" REDIS_URL="$(TEST_REDIS_URL)" DB_CONN_MAX_AGE=0 \
		SECRET_KEY="test-$$($(PY) -c 'import secrets; print(secrets.token_hex(16))')" \
		CHANNEL_LAYER_PREFIX="imsuite-test-$$$$" $(VENV)/bin/pytest; \
	elif [ "$$CI" = "true" ]; then \
		echo "FAILED: PostgreSQL or Redis is not answering, and CI=true makes leg 2 mandatory."; exit 1; \
	else \
		echo "SKIPPED leg 2: PostgreSQL or Redis is not answering (set TEST_DATABASE_URL / TEST_REDIS_URL)."; \
	fi

# The load benchmark: IM-Suite on daphne + PostgreSQL + channels-redis against two references.
# BENCH_ARGS=--quick for a one-minute smoke run. Results: the table below and var/bench.json.
bench: install
	$(PY) -m bench.run $(BENCH_ARGS)
