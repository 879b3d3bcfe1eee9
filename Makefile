# The README's two commands: `make smoke` (the smoke tier, end to end) and `make test`.
# Both set up on first use through scripts/setup.sh (the venv from pyproject.toml, librosa's
# compiled kernels, optional Debian packages); nothing is installed by hand.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2
SETUP_INPUTS := pyproject.toml scripts/setup.sh scripts/install_system_packages.sh \
	src/avrepro/numba_cache.py

.PHONY: smoke test lint clean-smoke

$(STAMP): $(SETUP_INPUTS)
	scripts/setup.sh $^

smoke: $(STAMP)
	$(BIN)/snakemake --directory tests/smoke --cores $(CORES) all

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/snakemake --lint --directory tests/smoke

clean-smoke:
	rm -rf tests/smoke/results tests/smoke/resources tests/smoke/logs tests/smoke/benchmarks \
		tests/smoke/.snakemake
