"""The slurm/ profile, found from the repo root, asks for a GPU exactly for GPU rules and
takes account and partitions from the environment (a dry run: no SLURM needed)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.workflow
# Every rule that runs a network; the workflow marks them with the resource gpu (1; IMD's
# training: imd.gpus_per_job, 1 in the smoke tier).
GPU_RULES = {"audio_image_features", "audio_image_features_compared", "video_features",
             "train_maivar", "densenet_features", "vggish_features", "train_mafnet",
             "train_twophase_branch", "train_twophase_fusion", "aenet_features",
             "vggish_embeddings", "train_tsn", "train_sound", "ast_features", "train_ast",
             "train_imd"}


def test_profile_routes_gpu_rules_to_the_gpu_partition(tmp_path):
    env = dict(os.environ, AVREPRO_SLURM_ACCOUNT="acct42", AVREPRO_SLURM_PARTITION="cpuq",
               AVREPRO_SLURM_GPU_PARTITION="gpuq")
    # A copy of the smoke config in an empty directory: nothing built, every job planned.
    (tmp_path / "config.yaml").write_text((REPO / "tests/smoke/config.yaml").read_text())
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "--profile", "slurm", "--directory", str(tmp_path),
         "--dry-run", "all"],
        cwd=REPO, env=env, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    jobs = re.findall(r"rule (\w+):\n(?:    .*\n)*?    resources: (.*)\n", done.stdout)
    assert {rule for rule, _ in jobs} >= GPU_RULES | {"manifest", "sample_frames", "table"}
    assert {rule for rule, resources in jobs if "gpu=1" in resources} == GPU_RULES
    for rule, resources in jobs:
        assert "slurm_account=acct42" in resources, rule
        if rule in GPU_RULES:
            assert "gpu=1" in resources and "slurm_partition=gpuq" in resources, rule
        else:
            assert "gpu=" not in resources and "slurm_partition=cpuq" in resources, rule
