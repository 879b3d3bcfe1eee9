"""Benchmark: how long Snakemake takes to plan the full tier, with full-size manifests.

Writes manifests of the real datasets' sizes (synthetic clip ids) into a scratch working
directory with the full-tier config, then dry-runs each table target and prints
`dag_seconds=<s> jobs=<n>` per target and overall. The DAG does not depend on the data
(jobs are per shard), so the plan must stay fast and small at any dataset size.

    .venv/bin/python scripts/bench_dag.py [--workdir DIR]
"""

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

from avrepro.data.manifest import COLUMNS

REPO = Path(__file__).resolve().parents[1]
# Clips per dataset and split in the real datasets (approximate where versions differ).
SIZES = {
    "ucf51": {"train": 4892, "test": 1944},
    "kinetics_sounds": {"train": 19347, "test": 1344},
    "kinetics400": {"train": 240_000, "test": 20_000},
}


def write_manifest(path: Path, classes: list[str], sizes: dict[str, int]) -> None:
    rows = []
    for split, n in sizes.items():
        for i in range(n):
            label = i % len(classes)
            rows.append((f"{split}_{i:07d}", f"videos/{split}_{i:07d}.mp4", classes[label],
                         label, split, 10.0, True, "ok", ""))
    pd.DataFrame(rows, columns=COLUMNS).to_csv(path, index=False)


def dry_run(workdir: Path, target: str) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
         "--directory", str(workdir), "--configfile", str(workdir / "config.yaml"),
         "--dry-run", target],
        capture_output=True, text=True, check=True,
    )
    seconds = time.perf_counter() - start
    total = re.search(r"^total\s+(\d+)", done.stdout, re.MULTILINE)
    return seconds, int(total[1]) if total else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="scratch folder (default: a temp dir)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="avrepro-dag-"))
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "config.yaml", workdir / "config.yaml")
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for raw in config["raw"]:
        (workdir / "resources" / raw).mkdir(parents=True, exist_ok=True)
        (workdir / "resources" / raw / ".complete").touch()
    (workdir / "results" / "manifests").mkdir(parents=True, exist_ok=True)
    for name, dataset in config["datasets"].items():
        write_manifest(workdir / "results" / "manifests" / f"{name}.csv", dataset["classes"],
                       SIZES[name])

    targets = [
        f"results/{table}_{metafile.stem}.csv"
        for metafile in sorted((REPO / "workflow" / "papers").glob("*.yaml"))
        for table in yaml.safe_load(metafile.read_text())["tables"]
    ]
    total_seconds, total_jobs = 0.0, 0
    for target in targets:
        seconds, jobs = dry_run(workdir, target)
        total_seconds, total_jobs = total_seconds + seconds, total_jobs + jobs
        print(f"{target}: dag_seconds={seconds:.1f} jobs={jobs}", flush=True)
    seconds, jobs = dry_run(workdir, "all")
    print(f"all targets: dag_seconds={seconds:.1f} jobs={jobs}")


if __name__ == "__main__":
    main()
