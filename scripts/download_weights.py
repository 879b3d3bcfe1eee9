"""Download one backbone's pretrained weights into the weights folder (checksum-verified)."""

from pathlib import Path

from avrepro.features.weights import fetch_weights
from avrepro.jobs import job

with job(snakemake.log[0]):
    path = fetch_weights(snakemake.params.backbone, Path(snakemake.output[0]).parent)
    print(f"weights of {snakemake.params.backbone}: {path}")
