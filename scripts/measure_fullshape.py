"""Record a built full-shape tier's jobs for the cost model (avrepro.cost).

Writes tests/fullshape/measured_jobs.csv (every job of every table and figure: benchmark,
output bytes, full-shape clips) and tests/fullshape/measured_machine.yaml (this machine's
single-thread throughput, which the model's GPU-hours use; the tier's epoch cap and
seeds). `snakemake results/cost.csv` at the
repo root turns them into the full tier's costs. Build the tier first (README, "The
full-shape tier"), then:

    .venv/bin/python scripts/measure_fullshape.py [paper ...] [--tier DIR]

`--tier` names a full-shape tier built in another checkout (a worktree of the commit
measured, so that edits in this one do not reach it); its Snakefile plans the jobs.
"""

import argparse
import datetime
import subprocess
import time
from pathlib import Path

import yaml

from avrepro.config import resolve
from avrepro.cost import measure_jobs, paper_outputs

REPO = Path(__file__).resolve().parents[1]
WORKDIR = REPO / "tests" / "fullshape"
PAPERS = ["maivar", "mafnet", "twophase", "audiogen", "imd"]


def cpu_gflops(repeats: int = 10) -> float:
    """Single-thread FLOP/s of a ResNet-18 forward (batch 8, 224 px), counted FLOPs
    (FlopCounterMode, a multiply-add as 2) over the best of `repeats` timed passes."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from torchvision.models import resnet18

    torch.set_num_threads(1)
    model, x = resnet18().eval(), torch.randn(8, 3, 224, 224)
    with torch.no_grad():
        with FlopCounterMode(display=False) as counter:
            model(x)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            best = min(best, time.perf_counter() - start)
    return counter.get_total_flops() / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("papers", nargs="*", default=PAPERS)
    parser.add_argument("--tier", type=Path, default=WORKDIR, help="the built tier")
    args = parser.parse_args()
    tier = args.tier.resolve()
    checkout, snakefile = tier.parents[1], tier.parents[1] / "Snakefile"
    targets = [t for paper in args.papers for t in paper_outputs(tier, paper, snakefile)]
    jobs = measure_jobs(tier, targets, snakefile)
    jobs.to_csv(WORKDIR / "measured_jobs.csv", index=False)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=checkout,
                            capture_output=True, text=True).stdout.strip()
    config = resolve(yaml.safe_load((tier / "config.yaml").read_text()), tier)
    machine = {"date": datetime.date.today().isoformat(), "commit": commit,
               "epoch_cap": config["epoch_cap"], "seeds": len(config["seeds"]),
               "cpu_gflops": round(cpu_gflops(), 1)}
    (WORKDIR / "measured_machine.yaml").write_text(yaml.safe_dump(machine, sort_keys=False))
    built = jobs.seconds.notna()
    print(f"{len(targets)} targets, {len(jobs)} jobs ({built.sum()} measured); {machine}")


if __name__ == "__main__":
    main()
