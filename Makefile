# The two commands a newcomer needs: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8080
STAMP := $(VENV)/.installed-stamp
LOCK := requirements/lock.txt
RUNTIME_LOCK := requirements/runtime.txt
PIP_QUIET := -q --disable-pip-version-check
TEST_DATABASE_URL ?= postgres://root@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: install run test lint test-client test-embedded test-pg bench lock upgrade-check

# Exactly the locked versions (with their hashes), then IM-Suite itself without touching them.
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install $(PIP_QUIET) --require-hashes -r $(LOCK)
	$(PY) -m pip install $(PIP_QUIET) --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	OUTBOUND_ALLOWED_NETWORKS=$${OUTBOUND_ALLOWED_NETWORKS-127.0.0.0/8,::1/128} $(PY) manage.py serve --host $(HOST) --port $(PORT)

# ESLint for the web client (static/app), exactly as package-lock.json pins it; node from the machine.
NODE_STAMP := node_modules/.package-lock.json
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund

lint: install $(NODE_STAMP)
	node_modules/.bin/eslint static/app tests/client
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports  # the layering contracts in .importlinter

test: lint test-client test-embedded test-pg

# The web client's store, in Node's own test runner (no browser, no npm package).
test-client:
	node --test tests/client/

test-embedded: install
	@echo "== leg 1 of 2: embedded (SQLite + in-memory channel layer)"
	env -u DATABASE_URL -u REDIS_URL $(VENV)/bin/pytest $(PYTEST_ARGS)

test-pg: install
	@echo "== leg 2 of 2: PostgreSQL + Redis ($(TEST_DATABASE_URL), $(TEST_REDIS_URL))"
	@if $(PY) tests/servers_up.py "$(TEST_DATABASE_URL)" "$(TEST_REDIS_URL)"; then \
		DATABASE_URL="$(TEST_DATABASE_URL)" REDIS_URL="$(TEST_REDIS_URL)" DB_CONN_MAX_AGE=0 \
		SECRET_KEY="test-$$($(PY) -c 'import secrets; print(secrets.token_hex(16))')" \
		CHANNEL_LAYER_PREFIX="imsuite-test-$$$$" $(VENV)/bin/pytest $(PYTEST_ARGS); \
	elif [ "$$CI" = "true" ]; then \
		echo "FAILED: PostgreSQL or Redis is not answering, and CI=true makes leg 2 mandatory."; exit 1; \
	else \
		echo "SKIPPED leg 2: PostgreSQL or Redis is not answering (set TEST_DATABASE_URL / TEST_REDIS_URL)."; \
	fi

# The load benchmark: IM-Suite on daphne + PostgreSQL + Redis against two references.
# BENCH_ARGS=--quick for a one-minute smoke run. Results: the table below and var/bench.json.
bench: install
	$(PY) -m bench.run $(BENCH_ARGS)

# The lock file anew from pyproject.toml (pip-tools, in a venv of its own). Versions already locked
# are kept while pyproject.toml allows them; LOCK_ARGS=--upgrade takes the newest allowed.
TOOLS_VENV ?= var/tools-venv
lock:
	@test -x $(TOOLS_VENV)/bin/pip-compile || { python3 -m venv $(TOOLS_VENV) \
		&& $(TOOLS_VENV)/bin/pip install $(PIP_QUIET) 'pip-tools>=7.4,<8'; }
	CUSTOM_COMPILE_COMMAND="make lock" $(TOOLS_VENV)/bin/pip-compile -q --extra test --generate-hashes \
		--strip-extras --no-emit-find-links --no-emit-index-url $(LOCK_ARGS) -o $(LOCK) pyproject.toml
	@# The image's lock: the runtime part of the one above, the same versions (it starts from a copy).
	cp $(LOCK) $(RUNTIME_LOCK)
	CUSTOM_COMPILE_COMMAND="make lock" $(TOOLS_VENV)/bin/pip-compile -q --generate-hashes \
		--strip-extras --no-emit-find-links --no-emit-index-url -o $(RUNTIME_LOCK) pyproject.toml

# The newest versions pyproject.toml allows, ignoring the lock, in a scratch venv, against the tests
# marked `internals` (those of imsuite.patches' internals) on both legs: run it before moving a
# bound or the lock. The stamp keeps the two legs from installing the lock over it.
UPGRADE_VENV ?= var/upgrade-venv
upgrade-check:
	rm -rf $(UPGRADE_VENV)
	python3 -m venv $(UPGRADE_VENV)
	$(UPGRADE_VENV)/bin/pip install $(PIP_QUIET) -e '.[test]'
	@touch $(UPGRADE_VENV)/.installed-stamp
	@echo "== the newest allowed versions of the patched libraries:"
	@$(UPGRADE_VENV)/bin/pip list --disable-pip-version-check \
		| grep -iE '^(daphne|autobahn|twisted|channels|channels.redis|django|djangorestframework) '
	$(MAKE) test-embedded test-pg VENV=$(UPGRADE_VENV) PYTEST_ARGS="-m internals -p no:cacheprovider"
