# Two commands set everything up on a fresh Debian machine with Python 3.11+:
#   make demo   build .venv, build the demo fleet through the real import path, detect, serve
#   make test   build .venv with test tools, install Debian's chromium if missing, run the suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: demo test lint format bench clean help chromium screenshots

help:
	@echo "make demo [ARGS=--no-serve]   demo fleet → import → detect → dashboard on :8501"
	@echo "make test                     the whole test suite (installs what it needs)"
	@echo "make lint / make format       ruff check / ruff format"
	@echo "make bench                    tokensentry bench --events 1000000 --format json"
	@echo "make screenshots              dashboard/web/screenshots/*.png of the main pages (demo data)"

$(BIN)/tokensentry: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "tokensentry needs Python 3.11 or newer ($(PYTHON) is older)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

demo: $(BIN)/tokensentry
	$(BIN)/tokensentry demo $(ARGS)

chromium:
	@{ command -v chromium && command -v chromedriver; } >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
		else \
			echo "the browser test needs Debian's chromium: sudo apt-get install chromium chromium-driver"; \
			exit 1; \
		fi; }

test: $(BIN)/tokensentry chromium
	$(BIN)/python -m pytest $(ARGS)

screenshots: $(BIN)/tokensentry chromium
	$(BIN)/python -m tests.dashboard.screenshots dashboard/web/screenshots

lint: $(BIN)/tokensentry
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/tokensentry
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(BIN)/tokensentry
	$(BIN)/tokensentry bench --events 1000000 --format json

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
