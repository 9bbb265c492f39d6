# Lambda Custom Runtimes, Hands-On: build and run targets.
#   make venv         create .venv and install the project with its dev extras (again only if pyproject.toml changed)
#   make system-deps  install from Debian what is missing: curl (the bash runtime), chromium (the browser tests)
#   make test         run the test suite (the browser tests included), then the linter
#   make test-browser run the browser tests only (screenshots in test-artifacts/browser/)
#   make lint         run the linter only
#   make bench        run the emulator's benchmark, then the grader's (make bench-grader: the grader's only)
#   make lab          open JupyterLab on the welcome notebook
#   make release | autograde A=<assignment> | feedback A=<assignment> | export   the instructor's steps (grader/README.md)
#   make clean        remove caches and build artifacts (make distclean also removes .venv)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv system-deps test test-browser lint bench bench-grader lab release autograde feedback export clean distclean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# curl: the reference bash runtime; chromium (+ a font): the browser tests (tests/browser), driven by Playwright.
# Debian's chromium, never `playwright install` (it downloads a browser of its own).
system-deps:
	@missing=""; \
	command -v curl >/dev/null 2>&1 || missing="$$missing curl"; \
	test -x /usr/bin/chromium || missing="$$missing chromium fonts-dejavu-core"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; \
	  elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
	  else echo "Missing Debian packages:$$missing; this user cannot install them: install them, then run make again" >&2; exit 1; fi; \
	  echo "Installing from Debian:$$missing"; \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

test: venv system-deps
	$(BIN)/python -m pytest -q
	$(BIN)/ruff check .

test-browser: venv system-deps
	$(BIN)/python -m pytest -q tests/browser

lint: venv
	$(BIN)/ruff check .

bench: venv
	$(BIN)/python -m runtime_reference.bench
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m grader.bench

bench-grader: venv
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m grader.bench

GRADER := PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m grader

release: venv
	$(GRADER) release

autograde feedback: venv
	@test -n "$(A)" || { echo "usage: make $@ A=<assignment>   (one of: $$(ls grader/source | tr '\n' ' '))"; exit 2; }
	$(GRADER) $@ $(A)

export: venv
	$(GRADER) export

lab: venv
	$(BIN)/jupyter lab --ip=127.0.0.1 $$( [ "$$(id -u)" = 0 ] && echo --allow-root ) \
	  --ServerApp.root_dir=notebooks --LabApp.default_url=/lab/tree/00-welcome/00-welcome.ipynb

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache bench-results test-artifacts
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
