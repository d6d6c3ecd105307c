# Two commands on a fresh Debian machine (as root, with only Python): `make demo` and `make test`.
# Each installs what is missing (Debian's chromium, the virtualenv, the project) and is quiet when all is there.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
CHROMIUM ?= /usr/bin/chromium
# The robots' default browser: the same Chromium built headless-only (half the CPU); the full one is for watching.
HEADLESS_SHELL ?= /usr/lib/chromium/chromium-headless-shell
# The multi-machine tests start a PostgreSQL server of their own from Debian's binaries.
INITDB := $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb))

.PHONY: demo test lint bench install postgres clean

install: $(CHROMIUM) $(HEADLESS_SHELL) $(STAMP)

$(CHROMIUM) $(HEADLESS_SHELL):
	@echo "Installing Debian's chromium and chromium-headless-shell (once)..."
	@apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-headless-shell >/dev/null

$(STAMP): pyproject.toml
	@echo "Creating the virtualenv and installing the project (once)..."
	@python3 -m venv $(VENV) 2>/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null && python3 -m venv $(VENV); }
	@{ $(PY) -m pip install -q --disable-pip-version-check --upgrade pip && \
	   $(PY) -m pip install -q --disable-pip-version-check -e '.[test]'; } > $(VENV)/install.log 2>&1 \
	  || { cat $(VENV)/install.log; echo "installing the project failed (log above)"; exit 1; }
	@touch $(STAMP)

postgres:
	@[ -n "$(INITDB)" ] || { echo "Installing Debian's postgresql (once, for the multi-machine tests)..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

demo: install
	@$(VENV)/bin/rpa demo

# Lint and types first: a style or type error fails fast, before the browser suite.
lint: install
	@$(VENV)/bin/ruff check pages robots flows mock_portals
	@$(VENV)/bin/ruff format --check pages robots flows mock_portals
	@$(VENV)/bin/mypy

test: install postgres lint
	@$(VENV)/bin/pytest -n 4

bench: install
	@$(PY) -m flows.devtools.bench

clean:
	rm -rf $(VENV) runs evidence
