# The README's two commands: `make demo` and `make test`. Both build ./.venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck imports unit venv system-deps bench bench-quick simulate clean

$(STAMP): pyproject.toml
	@$(MAKE) --no-print-directory system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

venv: $(STAMP)

# Debian packages the project needs at run time (installed only when missing). PDFs embed
# DejaVu Sans (Latin, Greek, Cyrillic) and fall back per glyph to Droid Sans Fallback for CJK.
# The portal's browser tests drive Debian's chromium (never a downloaded browser build).
# The relay tests start their own 3-node JetStream cluster from Debian's nats-server; the
# node tests a second PostgreSQL cluster from Debian's initdb / pg_ctl (tests/nodes/).
DEBS := fonts-dejavu-core fonts-droid-fallback poppler-utils chromium nats-server postgresql
system-deps:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi; \
	fi

demo: $(STAMP)
	$(BIN)/tollbook demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy domain projections adapters scheduler

unit: $(STAMP)
	$(BIN)/pytest tests/unit

imports: $(STAMP)
	$(BIN)/lint-imports

test: lint typecheck imports
	$(BIN)/pytest -n 2 --dist loadfile

# Every speed goal against its yardstick, one table at the end (docs/performance.md).
bench: $(STAMP)
	$(BIN)/python -m bench.all

bench-quick: $(STAMP)
	$(BIN)/python -m bench.all --quick

# The long ledger simulation, for nights and before releases (docs/simulation.md): EXAMPLES
# histories of up to STEPS commands each, on SQLite and PostgreSQL (STORE=sqlite or postgres for
# one). The seed is printed first; the same SEED (and STEPS, EXAMPLES) replays the same run.
SEED     ?= $(shell od -An -N4 -tu4 /dev/urandom | tr -d ' ')
STEPS    ?= 100
EXAMPLES ?= 100
STORE    ?=
simulate: $(STAMP)
	@echo "simulation seed $(SEED); replay it with: make simulate SEED=$(SEED) STEPS=$(STEPS) EXAMPLES=$(EXAMPLES)$(if $(STORE), STORE=$(STORE))"
	SIM_STEPS=$(STEPS) SIM_EXAMPLES=$(EXAMPLES) $(BIN)/pytest -p no:randomly -n 0 -x \
	  tests/simulation/test_simulation.py --hypothesis-seed=$(SEED) $(if $(STORE),-k $(STORE))

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
