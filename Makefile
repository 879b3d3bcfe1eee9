# The README's two commands: `make smoke` (the smoke tier, end to end) and `make test`.
# Both create .venv from pyproject.toml on first use, with the Debian packages of
# scripts/install_system_packages.sh where root may install them; nothing is installed by hand.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2

.PHONY: smoke test lint clean-smoke

$(STAMP): pyproject.toml scripts/install_system_packages.sh
	scripts/install_system_packages.sh
	python3 -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e '.[dev]'
	touch $@

smoke: $(STAMP)
	$(BIN)/snakemake --directory tests/smoke --cores $(CORES) all

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/snakemake --lint --directory tests/smoke

clean-smoke:
	rm -rf tests/smoke/results tests/smoke/resources tests/smoke/logs tests/smoke/.snakemake
