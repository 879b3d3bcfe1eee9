"""Running Snakemake on the smoke tier (tests/smoke), as `make smoke` does."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "tests" / "smoke"


def smoke_snakemake(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--directory", str(SMOKE), "--cores", "2", *args],
        cwd=REPO, capture_output=True, text=True,
    )
