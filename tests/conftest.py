"""Fixtures shared by every test directory."""

from pathlib import Path

import pytest

# The real fixtures live beside the project (../shared/fixtures), not inside it.
FIXTURES_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """../shared/fixtures (real label lists and clips); skips the test where it is absent."""
    if not FIXTURES_DIR.is_dir():
        pytest.skip(f"real fixtures not found at {FIXTURES_DIR.resolve()}")
    return FIXTURES_DIR
