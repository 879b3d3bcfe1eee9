"""The smoke tier's MAiVAR Table 2 (Kinetics-Sounds: MAiVAR's three runs and the two of
MAFnet's it reproduces, every stage from the raw videos to the table) built through a real
SLURM: `--profile slurm` submits every job
but the localrules with sbatch, and SLURM's own records show that they ran there, GPU rules
in the GPU partition.

Needs a running cluster whose squeue remembers finished jobs for the length of the run, as
the one-node cluster of `bash scripts/slurm_local.sh start` does (partitions `cpu` and `gpu`);
skipped where none answers, failed instead where AVREPRO_REQUIRE_SLURM=1 (as `.ci/run`
sets it, having started the cluster). Takes a few minutes on 2 cores.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from avrepro.papers import load_metafile

REPO = Path(__file__).resolve().parents[2]
SMOKE_CONFIG = REPO / "tests" / "smoke" / "config.yaml"
PROFILE = REPO / "slurm" / "config.yaml"
CPU_PARTITION, GPU_PARTITION = "cpu", "gpu"  # as scripts/slurm_local.sh names them
GPU_RULES = {"audio_image_features", "video_features", "train_maivar", "densenet_features",
             "vggish_features", "train_mafnet"}
# Three times the run's length on 2 quiet cores: a job SLURM can never start (a drained node,
# a request no node fits) would otherwise hang the test instead of failing it.
RUN_TIMEOUT_S = 20 * 60
TABLE, DATASET = "table2", "kinetics_sounds"
pytestmark = pytest.mark.workflow


def unavailable(reason: str) -> None:
    if os.environ.get("AVREPRO_REQUIRE_SLURM") == "1":
        pytest.fail(f"AVREPRO_REQUIRE_SLURM=1 but {reason}")
    pytest.skip(reason)


def slurm(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=30).stdout


@pytest.fixture(scope="module")
def node() -> tuple[int, int]:
    """The CPUs and memory (MB) of the cluster's smallest node; skips without a cluster."""
    if shutil.which("sbatch") is None:
        unavailable("no SLURM here (sbatch not on PATH): bash scripts/slurm_local.sh start")
    try:
        slurm("scontrol", "ping")
        partitions = slurm("sinfo", "--noheader", "--format=%R").split()
        sizes = slurm("sinfo", "--noheader", "--format=%c %m").split("\n")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        unavailable(f"no SLURM controller answers ({error}): bash scripts/slurm_local.sh start")
    missing = {CPU_PARTITION, GPU_PARTITION} - set(partitions)
    if missing:
        unavailable(f"the cluster lacks partitions {sorted(missing)}: see scripts/slurm_local.sh")
    # sinfo writes "N+" where a partition's nodes differ: N is the smallest.
    cpus, mem_mb = min(tuple(int(n.rstrip("+")) for n in line.split()) for line in sizes if line)
    return cpus, mem_mb


def node_sized_profile(directory: Path, cpus: int, mem_mb: int) -> Path:
    """A second profile that cuts the slurm/ profile's per-job requests down to the node.

    The profile asks what full-tier jobs need (4-8 CPUs, 16-64 GB), which a CI machine
    cannot offer, so SLURM would refuse or hold every job. The smoke tier's jobs need little:
    each gets one CPU, as `make smoke` runs its jobs, and a CPU's share of the node's memory,
    so the node runs as many jobs side by side as it has CPUs. Partitions, account, runtimes
    and every other setting stay the slurm/ profile's own.
    """
    profile = yaml.safe_load(PROFILE.read_text())
    mem_share = mem_mb // cpus

    def fit(resources: dict) -> dict:
        fitted = dict(resources)
        if "cpus_per_task" in fitted:
            fitted["cpus_per_task"] = 1
        if "mem_mb" in fitted:
            fitted["mem_mb"] = min(fitted["mem_mb"], mem_share)
        return fitted

    overrides = {
        "default-resources": fit(profile["default-resources"]),
        "set-resources": {rule: fit(res) for rule, res in profile["set-resources"].items()},
    }
    directory.mkdir()
    (directory / "config.yaml").write_text(yaml.safe_dump(overrides))
    return directory


@pytest.fixture(scope="module")
def built(node, tmp_path_factory) -> Path:
    """A fresh working directory in which the table was built through SLURM."""
    root = tmp_path_factory.mktemp("slurm")
    workdir = root / "work"
    workdir.mkdir()
    shutil.copy(SMOKE_CONFIG, workdir / "config.yaml")
    fit_node = node_sized_profile(root / "fit-node", *node)
    env = dict(
        os.environ,
        AVREPRO_SLURM_ACCOUNT="local",  # without slurmdbd any account name is accepted
        AVREPRO_SLURM_PARTITION=CPU_PARTITION,
        AVREPRO_SLURM_GPU_PARTITION=GPU_PARTITION,
    )
    done = subprocess.run(
        [
            sys.executable, "-m", "snakemake",
            "--profile", "slurm", "--profile", str(fit_node),  # the later profile wins per key
            "--directory", str(workdir), f"results/{TABLE}_maivar.csv", "--jobs", "4",
            # No slurmdbd, so no sacct: job states come from squeue, which keeps finished
            # jobs for MinJobAge (an hour in scripts/slurm_local.sh).
            "--slurm-status-command", "squeue",
            # Smoke jobs last seconds: the default first poll after 40 s would dominate.
            "--slurm-init-seconds-before-status-checks", "5",
            # The plugin deletes a successful job's SLURM log; the test reads them.
            "--slurm-keep-successful-logs",
        ],
        cwd=REPO, env=env, capture_output=True, text=True,
        timeout=RUN_TIMEOUT_S,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-5000:]
    return workdir


def test_the_table_reproduces_every_maivar_row(built):
    table = pd.read_csv(built / "results" / f"{TABLE}_maivar.csv")
    spec = load_metafile(REPO / "workflow" / "papers" / "maivar.yaml").tables[TABLE]
    seeds = len(yaml.safe_load(SMOKE_CONFIG.read_text())["seeds"])
    assert list(table.method) == [row.method for row in spec.rows]
    ours = table[[row.cells["value"].run is not None for row in spec.rows]]
    assert set(ours.status) == {"reproduced"}
    assert (ours.n == seeds).all()
    assert ours.reproduced.between(0, 100).all()
    for runs in ours.runs:
        for run in runs.split(";"):
            assert (built / run / "metrics.json").is_file(), run


def slurm_logs(workdir: Path, rule: str) -> list[Path]:
    """The logs SLURM wrote (sbatch --output) for one rule's jobs, each named by its job id."""
    return sorted((workdir / ".snakemake" / "slurm_logs" / f"rule_{rule}").glob("*/*.log"))


def test_every_job_ran_through_slurm_in_the_partition_the_profile_names(built):
    table = pd.read_csv(built / "results" / f"{TABLE}_maivar.csv")
    runs = {run for cell in table.runs.dropna() for run in cell.split(";")}
    config = yaml.safe_load(SMOKE_CONFIG.read_text())
    n_shards = config["datasets"][DATASET]["n_shards"]
    # A training job per run, or per variant where one job trains every seed; runs live in
    # results/{paper}/..., MAiVAR's own and the MAFnet rows' (results/mafnet/...).
    def train_jobs(paper: str) -> int:
        mine = {run for run in runs if Path(run).parts[1] == paper}
        return len(mine) if config["seeds_per_job"] == "one" else len(
            {str(Path(run).parent) for run in mine})

    jobs_per_rule = {
        "manifest": 1,
        # MAiVAR's audio at 22.05 kHz and TSN frames; MAFnet's at 16 kHz (VGGish) and its
        # one-second windows of frames.
        "extract_audio": 2 * n_shards, "sample_frames": 2 * n_shards,
        "audio_image_features": n_shards, "video_features": n_shards,
        "densenet_features": n_shards, "vggish_features": n_shards,
        "train_maivar": train_jobs("maivar"), "train_mafnet": train_jobs("mafnet"), "table": 1,
    }  # fmt: skip
    # What slurmctld remembers of recent jobs (no sacct without slurmdbd).
    listed = slurm("squeue", "--states=all", "--noheader", "--format=%i %P %T").splitlines()
    known = {job: (partition, state) for job, partition, state in map(str.split, listed)}
    for rule, count in jobs_per_rule.items():
        logs = slurm_logs(built, rule)
        assert len(logs) == count, rule
        partition = GPU_PARTITION if rule in GPU_RULES else CPU_PARTITION
        for log in logs:
            assert known.get(log.stem) == (partition, "COMPLETED"), log
    # acquire_raw is a localrule: it ran on the submit host, never through sbatch.
    assert not slurm_logs(built, "acquire_raw")
