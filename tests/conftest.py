"""Fixtures shared by every test directory."""

from contextlib import ExitStack
from pathlib import Path

import pytest

from avrepro import numba_cache

# The real fixtures live beside the project (../shared/fixtures), not inside it.
FIXTURES_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """../shared/fixtures (real label lists and clips); skips the test where it is absent."""
    if not FIXTURES_DIR.is_dir():
        pytest.skip(f"real fixtures not found at {FIXTURES_DIR.resolve()}")
    return FIXTURES_DIR


def pytest_configure(config):
    """The tests call librosa in this process: like a workflow job, it gets its own copy of
    the numba cache that set-up compiled, so that it never writes one another process uses."""
    stack = ExitStack()
    stack.enter_context(numba_cache.private_cache())
    config.add_cleanup(stack.close)
