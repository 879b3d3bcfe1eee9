"""Adding a method is one module and one metafile row (README, "Adding a method as a new
row"): in a copy of the checkout whose smoke tier is built, a fixture method
(tests/fixtures/methods/: maivar_late.py, a late fusion of two MAiVAR runs; maivar_early.py,
an MLP trained on two feature stores) and a row of MAiVAR's Table 1 naming it schedule its
runs and the table, and nothing else; the table then has the row, reproduced. That the
copy reruns nothing before also shows that a moved checkout keeps its results."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from smoke_tier import REPO, SMOKE

pytestmark = pytest.mark.workflow
FIXTURES = REPO / "tests" / "fixtures" / "methods"
# fixture module -> (its metafile row's method, its variant, whether it trains a model)
METHODS = {
    "maivar_late": ("Late fusion (VMLP + AMLP-CH)", "late_rep-ch_bb-irv2", False),
    "maivar_early": ("Early fusion (MLP, CH)", "early_rep-ch_bb-irv2", True),
}
AFTER = '      - {method: "Audio-only (chromagram, IRV2)", year: 2023, reported: 15.48,'
TABLE = "results/table1_maivar.csv"


def link_or_copy(source: str, target: str) -> None:
    """A hard link (instant, no space), or a copy where the two lie on different disks."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def copy_checkout(built: Path, to: Path) -> Path:
    """The checkout's code copied; the smoke tier's results and resources hard-linked (a
    job replaces its outputs, never writes into them) and Snakemake's records copied."""
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("Snakefile", "config.yaml", "pyproject.toml"):
        shutil.copy2(REPO / name, to / name)
    for name in ("src", "workflow", "scripts", "envs", "slurm"):
        shutil.copytree(REPO / name, to / name, ignore=skip)
    smoke = to / "tests" / "smoke"
    smoke.mkdir(parents=True)
    shutil.copy2(SMOKE / "config.yaml", smoke / "config.yaml")
    for name in ("results", "resources"):
        shutil.copytree(SMOKE / name, smoke / name, copy_function=link_or_copy)
    shutil.copytree(SMOKE / ".snakemake" / "metadata", smoke / ".snakemake" / "metadata")
    return to


def add_method(checkout: Path, module: str, method: str, variant: str) -> None:
    """The method's own module and one row of the metafile: all a user writes."""
    shutil.copy(FIXTURES / f"{module}.py", checkout / "src" / "avrepro" / "methods")
    metafile = checkout / "workflow" / "papers" / "maivar.yaml"
    lines = metafile.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith(AFTER))
    row = f'      - {{method: "{method}", run: {variant}}}\n'
    metafile.write_text("".join([*lines[: at + 1], row, *lines[at + 1 :]]))


def snakemake(checkout: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(checkout / "Snakefile"),
         "--directory", str(checkout / "tests" / "smoke"), "--cores", "2", *args],
        cwd=checkout, capture_output=True, text=True,
    )


@pytest.mark.parametrize("module", sorted(METHODS))
def test_a_new_row_is_its_module_and_one_metafile_row(built, tmp_path, module):
    method, variant, trains = METHODS[module]
    checkout = copy_checkout(built, tmp_path)
    moved = snakemake(checkout, "--dry-run", TABLE)
    assert moved.returncode == 0, moved.stderr[-3000:]
    assert "Nothing to be done" in moved.stdout + moved.stderr, moved.stdout[-3000:]

    add_method(checkout, module, method, variant)
    planned = snakemake(checkout, "--dry-run", TABLE)
    assert planned.returncode == 0, planned.stderr[-3000:]
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", planned.stdout, flags=re.MULTILINE))
    rule = f"train_maivar_{variant.split('_')[0]}"  # a job trains every seed (smoke tier)
    assert jobs == {rule: "1", "table": "1", "total": "2"}, planned.stdout

    done = snakemake(checkout, TABLE)
    assert done.returncode == 0, done.stderr[-3000:]
    table = pd.read_csv(checkout / "tests" / "smoke" / TABLE, dtype={"year": str})
    row = table.set_index("method").loc[method]
    assert row.status == "reproduced" and row.n == 2 and 0 <= row.reproduced <= 100
    assert pd.isna(row.reported) and pd.isna(row.year)
    assert table["year"].dropna().str.fullmatch(r"\d{4}").all()  # no year turned 2015.0
    run = checkout / "tests" / "smoke" / "results" / "maivar" / "ucf51" / variant / "seed0"
    assert (run / "model.pt").exists() == trains  # a late fusion trains nothing
