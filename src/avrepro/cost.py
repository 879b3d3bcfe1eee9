"""What the full tier costs, scaled from a full-shape run's measured jobs.

The full-shape tier (tests/fullshape) runs the full recipe at real input sizes on a few
clips. `measure_jobs` records, for every job each table or figure needs (a forced dry run
lists them), its Snakemake benchmark (wall and CPU seconds, peak RSS), the bytes of its
outputs and the size of its dataset there. `scale_jobs` turns those into the full tier's
(config.yaml) jobs at the datasets' real sizes (avrepro.data.sizes):

- a per-shard job (media, features) handles clips / n_shards clips: its seconds scale by
  real clips per shard over the full-shape run's, and there are n_shards of them;
- a training job's seconds scale by training clips and by the schedule's epochs over the
  capped ones (`epoch_cap`), one job per seed or per variant (`seeds_per_job`);
- a dataset-wide job (manifest, coverage, dictionary) scales by clips; a table or figure
  does not; downloads are network-bound and not modelled (their time is the network's).

Time is CPU time: the measured jobs ran one compute thread each (compute_threads: 1) on a
machine shared with other work, where wall time measures the sharing as much as the job.

Memory: a job's peak RSS at the full tier is the measured one plus, for the rules in
MEMORY_HELD, the growth of the data it holds: the bytes of the input stores it reads
whole, times the growth of its clips. The rest hold a clip or a
batch at a time, so their peak does not grow.
Disk: a store's bytes scale with its clips.

GPU-hours are not measured (no GPU here): a GPU rule's CPU seconds are converted at the
measured single-thread CPU throughput (`cpu_gflops`, counted FLOPs of ResNet-18 over
measured seconds) over a stated sustained GPU throughput (`gpu_tflops`, config `cost`).
It assumes the job is compute-bound, which over-counts a job that waits on decoding.
"""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from avrepro.data.sizes import full_size
from avrepro.job_costs import read_benchmark
from avrepro.naming import parse_variant
from avrepro.variants import audiogen as audiogen_variants
from avrepro.variants import twophase as twophase_variants

MEASURED_COLUMNS = [
    "target", "rule", "benchmark", "dataset", "shard", "variant", "gpu", "seconds",
    "cpu_seconds", "max_rss_mb", "feature_bytes", "flow_bytes", "output_bytes", "clips",
    "train_clips",
]
COST_COLUMNS = [
    "target", "rule", "scaling", "jobs", "imputed_jobs", "longest_job_h", "cpu_hours", "gpu_hours",
    "peak_ram_gb", "disk_gb",
]
NETWORK_RULES = {"acquire_raw", "audioset_labels", "download_bert"}  # and download_weights_*
# Rules whose peak memory grows with their data, and which of their inputs they hold
# whole: a dataset's feature stores (results/features), or optical-flow shards, which are
# compressed and so read whole. The rest stream (frames from the JPEG stores, MAFnet's
# window maps from memory-mapped shards) or hold a clip or a batch at a time.
MEMORY_HELD = {
    "train_maivar": "feature_bytes",
    "train_twophase_branch": "feature_bytes",  # the audio branches' spectrograms
    "train_sound": "feature_bytes",
    "train_tsn": "flow_bytes",
    "train_imd": "flow_bytes",
}

_BLOCK = re.compile(r"^(?:local)?rule (\w+):\n((?:    .*\n)+)", re.MULTILINE)


# ---------------------------------------------------------------------------------------
# Measuring a full-shape run.


def planned_jobs(workdir: Path, target: str, snakefile: Path) -> list[dict]:
    """Every job `target` needs, as a forced dry run plans them: rule and the job's
    `benchmark`, `output`, `wildcards` and `resources` lines."""
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", target, "--snakefile", str(snakefile),
         "--directory", str(workdir), "--forceall", "--dry-run"],
        capture_output=True, text=True,
    )
    if done.returncode:
        raise RuntimeError(f"dry run of {target} failed:\n{done.stderr[-3000:]}")
    return parse_dry_run(done.stdout)


def parse_dry_run(text: str) -> list[dict]:
    """The jobs of a dry run's output: {"rule", and each `    key: value` line}."""
    jobs = []
    for rule, body in _BLOCK.findall(text):
        fields = dict(line.strip().split(": ", 1) for line in body.splitlines() if ": " in line)
        jobs.append({"rule": rule, **fields})
    return jobs


def wildcards(job: dict) -> dict[str, str]:
    return dict(item.split("=", 1) for item in job.get("wildcards", "").split(", ") if item)


def file_bytes(workdir: Path, names: str, pattern: str = ".*") -> int:
    """Bytes of the files of a dry run's `input` or `output` line (a folder: its files)
    whose path in the working directory matches the regular expression `pattern`."""
    total = 0
    for name in names.split(", ") if names else []:
        path = workdir / name
        for file in path.rglob("*") if path.is_dir() else [path]:
            if file.is_file() and re.fullmatch(pattern, file.relative_to(workdir).as_posix()):
                total += file.stat().st_size
    return total


def dataset_clips(workdir: Path, dataset: str) -> tuple[int, int]:
    """(usable clips, usable training clips) of a full-shape dataset, from its manifest."""
    manifest = pd.read_csv(workdir / "results" / "manifests" / f"{dataset}.csv",
                           usecols=["split", "status"])
    ok = manifest[manifest.status == "ok"]
    return len(ok), int((ok.split == "train").sum())


def measure_jobs(workdir: Path, targets: list[str], snakefile: Path) -> pd.DataFrame:
    """One row per (target, job) of a built full-shape tier (MEASURED_COLUMNS); a job
    whose benchmark file is missing (not built) has NaN measurements."""
    rows, clips = [], {}
    for target in targets:
        for job in planned_jobs(workdir, target, snakefile):
            if "benchmark" not in job:
                continue  # a rule that does no work (the `all`-style aggregates)
            wild = wildcards(job)
            dataset = wild.get("dataset", "")
            if dataset and dataset not in clips:
                clips[dataset] = dataset_clips(workdir, dataset)
            bench = workdir / job["benchmark"]
            measured = read_benchmark(bench) if bench.is_file() else {}
            rows.append({
                "target": target, "rule": job["rule"], "benchmark": job["benchmark"],
                "dataset": dataset, "shard": wild.get("shard", ""),
                "variant": wild.get("variant", ""),
                "gpu": "gpu=" in job.get("resources", ""),
                "seconds": measured.get("seconds", np.nan),
                "cpu_seconds": measured.get("cpu_seconds", np.nan),
                "max_rss_mb": measured.get("max_rss_mb", np.nan),
                # the arrays a job may hold: its feature stores and flow shards
                "feature_bytes": file_bytes(workdir, job.get("input", ""),
                                            r"results/features/.*\.npz"),
                "flow_bytes": file_bytes(workdir, job.get("input", ""),
                                         r"results/media/[^/]+/flow-[^/]+/.*\.npz"),
                "output_bytes": file_bytes(workdir, job.get("output", "")),
                "clips": clips.get(dataset, (0, 0))[0],
                "train_clips": clips.get(dataset, (0, 0))[1],
            })
    return pd.DataFrame(rows, columns=MEASURED_COLUMNS)


def read_measured(path: Path) -> pd.DataFrame:
    """measured_jobs.csv as measure_jobs made it (names kept as text: shard "000")."""
    names = {"target": str, "rule": str, "benchmark": str, "dataset": str, "shard": str,
             "variant": str}
    return pd.read_csv(path, dtype=names).fillna({key: "" for key in names})


# ---------------------------------------------------------------------------------------
# Scaling to the full tier.


def planned_epochs(rule: str, variant: str, config: dict) -> int | None:
    """The epochs of a training job's schedule in `config` (uncapped); None for a job
    without epochs."""
    if rule == "train_maivar":
        return config["maivar"][parse_variant(variant)[0]]["epochs"]
    if rule == "train_mafnet":
        return config["mafnet"]["schedule"]["epochs"]
    if rule.startswith("train_twophase"):
        model = twophase_variants.parse(variant).model
        return config["twophase"][{"aud": "audio", "vis": "visual", "fusion": "fusion"}[model]][
            "epochs"]
    if rule == "train_tsn":
        return config["audiogen"]["tsn"][audiogen_variants.parse(variant).stream]["schedule"][
            "epochs"]
    if rule == "train_sound":
        return config["audiogen"]["generator"]["schedule"]["epochs"]
    if rule == "train_imd":
        return config["imd"]["schedule"]["epochs"]
    return None


def scaling(rule: str, shard: str, dataset: str) -> str:
    """How a rule's jobs grow with the data: network, shard, train, dataset or fixed."""
    if rule in NETWORK_RULES or rule.startswith("download_weights"):
        return "network"
    if shard:
        return "shard"
    if rule.startswith("train_") or rule == "late_fusion":
        return "train"
    return "dataset" if dataset else "fixed"


def impute_unbuilt(measured: pd.DataFrame) -> pd.DataFrame:
    """Measurements for the jobs the measured run did not build (a long tier built in
    part: IMD's 28 runs at ViT-B/L size): the median of the rule's built jobs on the same
    dataset, else of all its built jobs, flagged `imputed`. Jobs of a rule never built
    stay NaN."""
    measured = measured.assign(imputed=measured.seconds.isna())
    built = measured[~measured.imputed].drop_duplicates("benchmark")
    columns = ["seconds", "cpu_seconds", "max_rss_mb"]
    for keys in (["rule", "dataset"], ["rule"]):
        medians = built.groupby(keys)[columns].median()
        filled = medians.reindex(pd.MultiIndex.from_frame(measured[keys]))
        filled.index = measured.index
        measured[columns] = measured[columns].fillna(filled)
    return measured


def scale_jobs(measured: pd.DataFrame, machine: dict, config: dict,
               gpu_tflops: float) -> pd.DataFrame:
    """Each measured job at the full tier `config`: its scaling, job count (and how many
    of them were imputed, impute_unbuilt), hours per job (CPU hours for a CPU rule,
    estimated GPU hours for a GPU rule), CPU and GPU hours in all, peak RSS (MB) and
    output bytes in all. `machine` is the measurement's
    measured_machine.yaml: epoch_cap and seeds of the measured tier and cpu_gflops of its
    machine."""
    measured = impute_unbuilt(measured)
    epoch_cap, cpu_gflops = machine["epoch_cap"], machine["cpu_gflops"]
    datasets, seeds = config["datasets"], len(config["seeds"])
    one_job_a_seed = config["seeds_per_job"] == "one"
    rows = []
    for job in measured.itertuples(index=False):
        kind = scaling(job.rule, job.shard, job.dataset)
        jobs, ratio, memory_ratio = 1, 1.0, 1.0
        if kind in ("shard", "dataset", "train"):
            real = full_size(datasets, job.dataset)
            total = sum(real.values())
            if kind == "shard":
                jobs = datasets[job.dataset]["n_shards"]
                ratio = memory_ratio = (total / jobs) / job.clips  # one shard at full shape
            elif kind == "dataset":
                ratio = memory_ratio = total / job.clips
            else:  # trains on the training clips, holds (and tests) them all
                ratio, memory_ratio = real["train"] / job.train_clips, total / job.clips
                epochs = planned_epochs(job.rule, job.variant, config)
                if epochs is not None and epoch_cap is not None:
                    ratio *= epochs / min(epochs, epoch_cap)
                ratio /= machine["seeds"]  # a measured job trained that many: one seed's
                if one_job_a_seed:
                    jobs = seeds
                else:
                    ratio *= seeds
        held = getattr(job, MEMORY_HELD[job.rule]) / 2**20 if job.rule in MEMORY_HELD else 0
        rss = job.max_rss_mb + held * (memory_ratio - 1)
        job_cpu_s = job.cpu_seconds * ratio
        to_gpu = cpu_gflops / (gpu_tflops * 1000) if job.gpu else 1.0
        network = kind == "network"
        store_ratio = ratio if kind in ("shard", "dataset") else 1.0  # runs: fixed size
        rows.append({
            "target": job.target, "rule": job.rule, "scaling": kind, "jobs": jobs,
            "imputed_jobs": jobs if job.imputed else 0,
            "job_hours": np.nan if network else job_cpu_s * to_gpu / 3600,
            "cpu_hours": 0.0 if network or job.gpu else jobs * job_cpu_s / 3600,
            "gpu_hours": jobs * job_cpu_s * to_gpu / 3600 if job.gpu else 0.0,
            "max_rss_mb": rss,
            "output_bytes": job.output_bytes * store_ratio * jobs,
        })
    return pd.DataFrame(rows)


def cost_table(scaled: pd.DataFrame) -> pd.DataFrame:
    """Per target and rule, then per target in all (rule `all rules`): COST_COLUMNS."""
    grouped = scaled.groupby(["target", "rule"], sort=False)
    per_rule = grouped.agg(
        scaling=("scaling", "first"), jobs=("jobs", "sum"), imputed_jobs=("imputed_jobs", "sum"),
        longest_job_h=("job_hours", "max"), cpu_hours=("cpu_hours", "sum"),
        gpu_hours=("gpu_hours", "sum"), peak_ram_gb=("max_rss_mb", "max"),
        disk_gb=("output_bytes", "sum"),
    ).reset_index()
    per_rule["peak_ram_gb"] /= 1024
    per_rule["disk_gb"] /= 1e9
    totals = per_rule.groupby("target", sort=False).agg(
        jobs=("jobs", "sum"), imputed_jobs=("imputed_jobs", "sum"),
        longest_job_h=("longest_job_h", "max"),
        cpu_hours=("cpu_hours", "sum"), gpu_hours=("gpu_hours", "sum"),
        peak_ram_gb=("peak_ram_gb", "max"), disk_gb=("disk_gb", "sum"),
    ).reset_index().assign(rule="all rules", scaling="")
    table = pd.concat([per_rule, totals], ignore_index=True)
    table["order"] = table.rule.eq("all rules")
    table = table.sort_values(["target", "order", "gpu_hours", "cpu_hours"],
                              ascending=[True, True, False, False], kind="stable")
    return table[COST_COLUMNS].round(3).reset_index(drop=True)


def paper_outputs(workdir: Path, paper: str, snakefile: Path) -> list[str]:
    """The tables and figures of a paper's target (`snakemake ... maivar`)."""
    outputs = []
    for job in planned_jobs(workdir, paper, snakefile):
        if job["rule"] == "table" or job["rule"].startswith("fig"):
            outputs.append(job["output"].split(", ")[0])  # a figure's .pdf and .png: one job
    return sorted(outputs)
