# The two commands a new user needs: `make serve` and `make test`. Each one sets itself up.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: serve test lint clean browser postgres

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEVSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP) $@

# Debian's chromium for the browser test; never a downloaded browser build.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing Debian's chromium for the browser test"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null); \
	fi

# Debian's PostgreSQL server binaries for the PostgreSQL tests (each test process starts its own
# throwaway cluster from them, see tests/postgres_server.py); never a downloaded build.
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "installing Debian's postgresql for the PostgreSQL tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
		|| (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null); \
	fi

serve: $(STAMP)
	$(BIN)/paiid serve --host 127.0.0.1 --port 8000

test: $(DEVSTAMP) browser postgres
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: $(DEVSTAMP)
	$(BIN)/ruff check src tests

clean:
	rm -rf $(VENV) .pytest_cache
