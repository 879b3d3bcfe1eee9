"""The smoke tier, built once per test session (when it is already built, building it
again only checks that nothing is out of date)."""

from pathlib import Path

import pytest
from smoke_tier import SMOKE, smoke_snakemake


@pytest.fixture(scope="session")
def built() -> Path:
    done = smoke_snakemake("all")
    assert done.returncode == 0, done.stderr[-3000:]
    return SMOKE / "results"
