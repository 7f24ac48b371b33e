# C42 Platform: `make run` serves the demo, `make test` runs the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev
HOST ?= 127.0.0.1
PORT ?= 8042

.PHONY: run test test-postgres bench bench-reference lint install install-dev clean browser-deps nginx-deps node-deps

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(STAMP_RUN): requirements.lock pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

$(STAMP_DEV): requirements-dev.lock pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements-dev.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@ $(STAMP_RUN)

install: $(STAMP_RUN)
install-dev: $(STAMP_DEV)

run: $(STAMP_RUN)
	$(BIN)/c42 migrate
	C42_ISSUER=$${C42_ISSUER:-http://$(HOST):$(PORT)} $(BIN)/c42 demo --if-empty
	$(BIN)/c42 serve --host $(HOST) --port $(PORT)

# Browser tests need Debian's Chromium; installed when missing (never a downloaded browser build).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium unavailable: browser tests will be skipped"

# The reverse-proxy test puts Debian's nginx in front of `c42 serve` (deploy/nginx/); only the
# binary is used, with its own temporary configuration (the system service is never started).
nginx-deps:
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || (apt-get update -qq && apt-get install -y -qq nginx-light >/dev/null) || echo "nginx unavailable: the reverse-proxy test will be skipped"

# The OpenID Connect tests run Node's openid-client as a second relying party; installed from
# the npm registry into var/node_modules (skipped, with the tests, when npm is unavailable).
OPENID_CLIENT_VERSION := 6.8.9
node-deps:
	@command -v npm >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq npm >/dev/null 2>&1) || true
	@test -d var/node_modules/openid-client || (command -v npm >/dev/null 2>&1 && mkdir -p var && npm install --prefix var --no-save --no-audit --no-fund --silent openid-client@$(OPENID_CLIENT_VERSION) >/dev/null) || echo "npm unavailable: the openid-client tests will be skipped"

test: $(STAMP_DEV) browser-deps nginx-deps node-deps
	$(BIN)/pytest $(PYTEST_ARGS)

test-postgres: $(STAMP_DEV) browser-deps nginx-deps node-deps
	C42_TEST_DATABASE_URL=$${C42_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test} $(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP_DEV)
	$(BIN)/ruff check c42 tests bench
	$(BIN)/ruff format --check c42 tests bench
	$(BIN)/mypy --strict c42

bench: $(STAMP_DEV)
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)
	$(BIN)/python -m bench.run

# django-oauth-toolkit's refresh grant and a Django REST framework events list on the same
# data, measured the same way, for comparison (bench/reference/).
bench-reference: $(STAMP_DEV)
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)
	$(BIN)/python -m bench.reference.dot --hashed
	$(BIN)/python -m bench.reference.drf

clean:
	rm -rf $(VENV) var .pytest_cache
