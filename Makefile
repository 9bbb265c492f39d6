# Lambda Custom Runtimes, Hands-On: build and run targets.
#   make venv         create .venv and install the project with its dev extras (again only if pyproject.toml changed)
#   make system-deps  install what the reference bash runtime needs from Debian (curl), when missing
#   make test         run the test suite, then the linter
#   make lint         run the linter only
#   make bench        run the emulator's benchmark
#   make lab          open JupyterLab on the welcome notebook
#   make clean        remove caches and build artifacts (make distclean also removes .venv)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv system-deps test lint bench lab clean distclean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

system-deps:
	@command -v curl >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; \
	  elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
	  else echo "curl is missing and this user cannot install it: install curl, then run make again" >&2; exit 1; fi; \
	  echo "Installing curl (needed by the reference bash runtime)"; \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null; \
	}

test: venv system-deps
	$(BIN)/python -m pytest -q
	$(BIN)/ruff check .

lint: venv
	$(BIN)/ruff check .

bench: venv
	$(BIN)/python -m runtime_reference.bench

lab: venv
	$(BIN)/jupyter lab --ip=127.0.0.1 $$( [ "$$(id -u)" = 0 ] && echo --allow-root ) notebooks/00-welcome/00-welcome.ipynb

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache bench-results
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
