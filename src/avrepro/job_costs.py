"""Where a workflow's time goes: job-seconds per rule, from Snakemake's benchmark files.

Every rule writes `benchmarks/{rule}/...tsv` (or `benchmarks/{rule}.tsv` for a rule with
one job); each file holds one job's wall seconds (`s`), CPU seconds and peak memory.
"""

from pathlib import Path

import pandas as pd


def read_benchmarks(root: Path) -> pd.DataFrame:
    """One row per job: rule, job (its path under the rule), seconds, cpu_seconds, max_rss_mb."""
    rows = []
    for path in sorted(root.rglob("*.tsv")):
        relative = path.relative_to(root).with_suffix("")
        rule, _, job = str(relative).partition("/")
        rows.append({"rule": rule, "job": job or rule, **read_benchmark(path)})
    return pd.DataFrame(rows, columns=["rule", "job", "seconds", "cpu_seconds", "max_rss_mb"])


def read_benchmark(path: Path) -> dict[str, float]:
    """One job's seconds, cpu_seconds and max_rss_mb (NaN where Snakemake measured none:
    a job shorter than its sampling interval) from its benchmark file."""
    measured = pd.read_csv(path, sep="\t").iloc[-1]  # the last repeat, should there be several
    return {"seconds": float(measured["s"]), "cpu_seconds": float(measured["cpu_time"]),
            "max_rss_mb": float(pd.to_numeric(measured["max_rss"], errors="coerce"))}


def per_rule(jobs: pd.DataFrame) -> pd.DataFrame:
    """Jobs, job-seconds (total, mean, max) and peak memory per rule, costliest first."""
    table = jobs.groupby("rule").agg(
        jobs=("seconds", "size"), job_seconds=("seconds", "sum"), mean_s=("seconds", "mean"),
        max_s=("seconds", "max"), cpu_seconds=("cpu_seconds", "sum"),
        max_rss_mb=("max_rss_mb", "max"),
    )
    return table.sort_values("job_seconds", ascending=False).round(1)
