"""Workflow tests on the smoke tier with injected faults (tests/faults/config.yaml).

- Every damaged clip is recorded by the stage that meets it (the manifest, or the audio
  shard index), no job crashes, and Table 1 counts exactly the clips that were usable.
- A training run killed (SIGKILL to Snakemake's process group) after its first checkpoint
  resumes from it, and ends with the metrics, history and predictions of an uninterrupted run.

Both run in temporary copies of tests/faults; nothing is written into the repository.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from avrepro.data.faults import FAULTS_FILE
from avrepro.data.manifest import read_manifest

REPO = Path(__file__).resolve().parents[2]
FAULTS_TIER = REPO / "tests" / "faults"
TABLE = "results/table1_maivar.csv"
RUN = Path("results/maivar/ucf51/vmlp/seed0")
RUN_LOG = Path("logs/maivar/ucf51/vmlp/seed0.log")
# A schedule long enough to be killed part-way, with a checkpoint after every epoch.
RESUME_SCHEDULE = {"epochs": 20, "batch_size": 8, "lr": 1.0e-3, "l1": 0.0}
CHECKPOINT_TIMEOUT_S = 300
pytestmark = pytest.mark.workflow

# Where each fault shows up, as (table, column, value); see avrepro.data.faults.
RECORDED_AS = {
    "missing": ("manifest", "status", "missing"),
    "empty": ("manifest", "status", "empty"),
    "bad_audio": ("audio", "audio_status", "error"),
    "no_audio": ("audio", "audio_status", "no_audio"),
    # UCF101's clips are AVI, whose header survives a cut: ffmpeg plays the first half,
    # so the clip is used, only shorter (an MP4 would be "corrupt": tests/unit/test_faults.py).
    "truncated": ("manifest", "status", "ok"),
}


def snakemake_command(workdir: Path, *args: str) -> list[str]:
    """Targets go before options: --configfile takes every word that follows it."""
    return [sys.executable, "-m", "snakemake", "--directory", str(workdir), "--cores", "2", *args]


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        snakemake_command(workdir, *args), cwd=REPO, capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A copy of tests/faults in which Table 1 has been built."""
    workdir = tmp_path_factory.mktemp("faults")
    shutil.copy(FAULTS_TIER / "config.yaml", workdir)
    done = snakemake(workdir, TABLE)
    assert done.returncode == 0, done.stderr[-3000:]
    return workdir


def shard_indices(pattern: str, workdir: Path) -> pd.DataFrame:
    paths = sorted(workdir.glob(pattern))
    assert paths, f"no shard index matches {pattern}"
    return pd.concat([pd.read_csv(path) for path in paths]).set_index("clip_id")


def test_faults_are_recorded_and_the_table_counts_the_usable_clips(workdir):
    faults = pd.read_csv(workdir / "resources" / "ucf101" / FAULTS_FILE)
    assert set(faults.fault) == set(RECORDED_AS)
    tables = {
        "manifest": read_manifest(workdir / "results/manifests/ucf51.csv").set_index("clip_id"),
        "audio": shard_indices("results/media/ucf51/audio-22050/shard-*/index.csv", workdir),
        "frames": shard_indices("results/media/ucf51/frames-tsn8/shard-*.csv", workdir),
    }
    for fault in faults.itertuples():
        table, column, value = RECORDED_AS[fault.fault]
        assert tables[table].loc[fault.clip_id, column] == value, fault
    # The clip whose audio fails is named in the reason.
    bad_audio = faults.set_index("fault").loc["bad_audio"]
    assert bad_audio.path in tables["audio"].loc[bad_audio.clip_id, "reason"]

    manifest = tables["manifest"]
    usable = (
        (manifest.status == "ok")
        & manifest.has_audio
        & (tables["audio"].audio_status.reindex(manifest.index) == "ok")
        & (tables["frames"].frames_status.reindex(manifest.index) == "ok")
    )
    # Every clip but the damaged ones that cannot be used (the truncated AVI can).
    assert usable.sum() == len(manifest) - (faults.fault != "truncated").sum()
    table = pd.read_csv(workdir / TABLE).set_index("method")
    used = table[table.status == "reproduced"].eval("clips_train + clips_test")
    assert not used.empty
    assert (used == usable.sum()).all(), f"{usable.sum()} usable clips; used:\n{used}"


def copy_for_resume(workdir: Path, destination: Path) -> Path:
    """A copy of the built tier whose video MLP gets RESUME_SCHEDULE (a changed parameter,
    so Snakemake reruns it), with the finished run's checkpoint removed."""
    shutil.copytree(workdir, destination, symlinks=True)
    (destination / "resume.yaml").write_text(yaml.safe_dump(
        {"checkpoint_interval_s": 0, "maivar": {"vmlp": RESUME_SCHEDULE}}))
    (destination / RUN / "checkpoint.pt").unlink()
    return destination


def start_training(workdir: Path, *options: str) -> subprocess.Popen:
    """Snakemake building the video MLP run with RESUME_SCHEDULE, output into workdir/run.log.

    In its own process group, so that one signal reaches Snakemake and its job.
    """
    target = str(RUN / "metrics.json")
    config = str(workdir / "resume.yaml")
    with open(workdir / "run.log", "w") as log:
        return subprocess.Popen(
            snakemake_command(workdir, target, *options, "--configfile", config),
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def finish(process: subprocess.Popen, workdir: Path) -> None:
    assert process.wait() == 0, (workdir / "run.log").read_text()[-3000:]


def kill_after_first_checkpoint(process: subprocess.Popen, workdir: Path) -> None:
    try:
        deadline = time.monotonic() + CHECKPOINT_TIMEOUT_S
        while not (workdir / RUN / "checkpoint.pt").exists():
            assert process.poll() is None, (workdir / "run.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no checkpoint within the timeout"
            time.sleep(0.05)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert not (workdir / RUN / "metrics.json").exists(), "the run finished before the kill"


def test_killed_training_resumes_to_the_uninterrupted_result(workdir, tmp_path):
    interrupted = copy_for_resume(workdir, tmp_path / "interrupted")
    uninterrupted = copy_for_resume(workdir, tmp_path / "uninterrupted")
    # The reference run goes on beside the other: sharing the CPU changes its speed, not
    # its result (the thread count, which could, is the same for both).
    reference = start_training(uninterrupted)

    kill_after_first_checkpoint(start_training(interrupted), interrupted)
    unlocked = snakemake(interrupted, "--unlock")  # a killed Snakemake leaves its lock behind
    assert unlocked.returncode == 0, unlocked.stderr[-2000:]
    finish(start_training(interrupted, "--rerun-incomplete"), interrupted)
    assert "resuming from" in (interrupted / RUN_LOG).read_text()

    finish(reference, uninterrupted)
    assert "resuming from" not in (uninterrupted / RUN_LOG).read_text()

    resumed, straight = interrupted / RUN, uninterrupted / RUN
    metrics = json.loads((resumed / "metrics.json").read_text())
    assert metrics == json.loads((straight / "metrics.json").read_text())
    history = pd.read_csv(resumed / "history.csv")
    assert len(history) == RESUME_SCHEDULE["epochs"]
    pd.testing.assert_frame_equal(history, pd.read_csv(straight / "history.csv"), check_exact=True)
    pd.testing.assert_frame_equal(
        pd.read_parquet(resumed / "predictions.parquet"),
        pd.read_parquet(straight / "predictions.parquet"),
    )
