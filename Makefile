# idgate: `make run` serves it, `make test` tests it. Both create .venv on first use.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check --quiet
# Exact versions for reproducible installs; regenerate with `make lock`.
LOCK   := constraints.txt

# The browser tests drive Debian's Chromium (Playwright cannot download its own browsers here).
CHROMIUM ?= /usr/bin/chromium
# npm's oidc-provider, the OpenID Connect provider of the social-login tests (Node.js >= 20).
PEERS  := tests/oauth/peers

.PHONY: run test lint format lock clean help chromium screenshots peers example bench bench-tools

help:
	@echo "make run    create .venv, install, migrate, serve idgate on http://127.0.0.1:8000"
	@echo "make test   create .venv with the dev tools and run the whole suite"
	@echo "make lint   ruff, mypy --strict and the layering contracts"
	@echo "make lock   re-resolve constraints.txt from pyproject.toml"
	@echo "make screenshots  photograph the pages into docs/screenshots/"
	@echo "make example  idgate and the posts example API side by side (examples/posts)"
	@echo "make bench  measure idgate against the tutorial app, fastapi-users and bare FastAPI"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit("idgate needs Python >= 3.11" if sys.version_info < (3, 11) else 0)'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(VENV)/.run: $(BIN)/python pyproject.toml $(LOCK)
	$(PIP) install -c $(LOCK) -e .
	@touch $@

$(VENV)/.dev: $(BIN)/python pyproject.toml $(LOCK)
	$(PIP) install -c $(LOCK) -e '.[dev]'
	@touch $@ $(VENV)/.run

run: $(VENV)/.run
	$(BIN)/idgate migrate
	$(BIN)/idgate serve

# idgate on :8000 and the posts API of examples/posts on :8001; ARGS="--idgate-port 9000 ...".
example: $(VENV)/.run
	$(BIN)/python examples/posts/run.py $(ARGS)

test: $(VENV)/.dev chromium peers
	$(BIN)/pytest -n auto

# Installs the test peers from their lock file when node_modules is missing or stale.
peers: $(PEERS)/node_modules/.package-lock.json

$(PEERS)/node_modules/.package-lock.json: $(PEERS)/package.json $(PEERS)/package-lock.json
	cd $(PEERS) && npm ci --no-audit --no-fund --loglevel=error

# Installs Debian's chromium package when it is missing (as root, or through sudo).
chromium:
	@test -x $(CHROMIUM) || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

screenshots: $(VENV)/.dev chromium peers
	IDGATE_SCREENSHOTS_DIR=docs/screenshots $(BIN)/pytest -p no:xdist -q tests/web/pages/test_browser.py tests/oauth/test_oidc_provider.py

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The benchmark (bench/README.md). wrk comes from Debian; BENCH_ARGS go to `python -m bench`,
# e.g. make bench BENCH_ARGS="--postgres postgresql://postgres@127.0.0.1/postgres --redis redis://127.0.0.1:6379/0"
BENCH_ARGS ?=
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(VENV)/.bench: $(BIN)/python pyproject.toml $(LOCK)
	$(PIP) install -c $(LOCK) -e '.[bench]'
	@touch $@

bench-tools:
	@command -v wrk >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq wrk; }

bench: $(VENV)/.bench bench-tools
	$(BIN)/python -m bench $(BENCH_ARGS)

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lock: $(BIN)/python
	rm -rf $(VENV)/lock && $(PYTHON) -m venv $(VENV)/lock
	$(VENV)/lock/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/lock/bin/python -m pip install --quiet -e '.[dev]'
	$(VENV)/lock/bin/python -m pip freeze --exclude-editable --exclude pip > $(LOCK)
	rm -rf $(VENV)/lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache $(PEERS)/node_modules
