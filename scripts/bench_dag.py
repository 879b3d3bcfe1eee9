"""Benchmark: how long Snakemake takes to plan the full tier, with full-size manifests.

Writes manifests of the real datasets' sizes (synthetic clip ids) into a scratch working
directory with the full-tier config (plus Kinetics-400 and UCF101 as wholes, IMD's
datasets, where config.yaml leaves them out), then dry-runs, per dataset, every table
target that reads it (or, for a dataset no table reads yet, its manifest and the media of
every shard), and every target together. Prints `dag_seconds=<s> jobs=<n>` per dataset and
overall. The DAG does not depend on the data (jobs are per shard), so the plan must stay
fast and small at any dataset size.

    .venv/bin/python scripts/bench_dag.py [--workdir DIR] [--datasets NAME ...]
"""

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from avrepro.data.manifest import COLUMNS
from avrepro.data.sizes import FULL_SIZES, full_size
from avrepro.papers import load_metafile

REPO = Path(__file__).resolve().parents[1]
# IMD's whole datasets, added where the config lacks them.
WHOLE = {
    "kinetics400": {"raw": "kinetics400", "splits": {"train": "train", "test": "val"},
                    "n_shards": 256, "classes": "all"},
    "ucf101": {"raw": "ucf101", "split": 1, "n_shards": 32, "classes": "all"},
    **{f"ucf101_split{k}": {"raw": "ucf101", "split": k, "clips_from": "ucf101",
                            "n_shards": 32, "classes": "all"} for k in (2, 3)},
}
# Classes of a raw dataset whose datasets take them `all`; names are placeholders.
ALL_CLASSES = {"kinetics400": 400, "ucf101": 101, "moments_mini": 200}


def write_manifest(path: Path, classes: list[str], sizes: dict[str, int]) -> None:
    """A manifest of `sizes` clips per split, every clip usable, built column-wise."""
    split = np.repeat(list(sizes), list(sizes.values()))
    clip_id = [f"{s}_{i:07d}" for s, n in sizes.items() for i in range(n)]
    label_index = np.arange(len(split)) % len(classes)
    pd.DataFrame({
        "clip_id": clip_id, "path": [f"videos/{c}.mp4" for c in clip_id],
        "label": np.asarray(classes)[label_index], "label_index": label_index,
        "split": split, "duration": 10.0, "has_audio": True, "status": "ok", "reason": "",
    })[COLUMNS].to_csv(path, index=False)


def dry_run(workdir: Path, targets: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    # Targets first: --configfile and --quiet take every word that follows them.
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", *targets, "--snakefile", str(REPO / "Snakefile"),
         "--directory", str(workdir), "--dry-run", "--quiet", "rules",
         "--configfile", str(workdir / "config.yaml")],
        capture_output=True, text=True,
    )
    if done.returncode:
        sys.exit(f"dry run of {targets[:3]}... failed:\n{(done.stdout + done.stderr)[-3000:]}")
    seconds = time.perf_counter() - start
    total = re.search(r"^total\s+(\d+)", done.stdout, re.MULTILINE)
    return seconds, int(total[1]) if total else 0


def table_targets() -> dict[str, set[str]]:
    """Every table target, with the datasets its runs read."""
    targets = {}
    for path in sorted((REPO / "workflow" / "papers").glob("*.yaml")):
        meta = load_metafile(path)
        for key, table in meta.tables.items():
            targets[f"results/{key}_{meta.paper}.csv"] = {
                d for names in table.datasets.values() for d in names}
    return targets


def media_targets(config: dict, name: str) -> list[str]:
    """A dataset's manifest and the media of every shard: what a table on it would start
    from (2 x n_shards jobs)."""
    shards = range(config["datasets"][name]["n_shards"])
    frames = next(iter(config["frames"]))
    return [f"results/manifests/{name}.csv",
            *(f"results/media/{name}/audio-16000/shard-{i:03d}" for i in shards),
            *(f"results/media/{name}/frames-{frames}/shard-{i:03d}.npz" for i in shards)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="scratch folder (default: a temp dir)")
    parser.add_argument("--datasets", nargs="+", metavar="NAME",
                        help="plan only these datasets (default: all), then every target")
    parser.add_argument("--media", action="store_true",
                        help="plan each dataset's manifest and media, not its tables, and skip "
                             "the all-targets run (for a paper whose rules are still missing)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="avrepro-dag-"))
    workdir.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for name, dataset in WHOLE.items():
        config["datasets"].setdefault(name, dataset)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    for raw in config["raw"]:
        (workdir / "resources" / raw).mkdir(parents=True, exist_ok=True)
        (workdir / "resources" / raw / ".complete").touch()
    manifests = workdir / "results" / "manifests"
    manifests.mkdir(parents=True, exist_ok=True)
    for name, dataset in config["datasets"].items():
        classes = dataset["classes"]
        if classes == "all":  # placeholder names; only their number matters here
            classes = [f"class{k:03d}" for k in range(ALL_CLASSES[dataset["raw"]])]
        sizes = full_size(config["datasets"], name)
        write_manifest(manifests / f"{name}.csv", classes, sizes)
    print(f"manifests: {sum(sum(s.values()) for s in FULL_SIZES.values())} clips in {workdir}",
          flush=True)

    tables = table_targets()
    for name, dataset in config["datasets"].items():
        if "clips_from" in dataset or (args.datasets and name not in args.datasets):
            continue  # planned with the dataset whose clips it shares, or not asked for
        views = {name, *(d for d, c in config["datasets"].items() if c.get("clips_from") == name)}
        targets = [] if args.media else sorted(t for t, ds in tables.items() if ds & views)
        what = f"{len(targets)} table targets" if targets else "manifest + media"
        seconds, jobs = dry_run(workdir, targets or media_targets(config, name))
        print(f"{name}: dag_seconds={seconds:.1f} jobs={jobs} ({what})", flush=True)
    if args.media:
        return
    seconds, jobs = dry_run(workdir, ["all"])
    print(f"all targets: dag_seconds={seconds:.1f} jobs={jobs}")


if __name__ == "__main__":
    main()
