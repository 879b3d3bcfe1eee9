"""Download one backbone's pretrained weights into the weights folder (checksum-verified:
the registry's checksum, or the one config pins where the publisher prints none)."""

from pathlib import Path

from avrepro.features.weights import fetch_weights
from avrepro.jobs import job

with job(snakemake.log[0]):
    path = fetch_weights(snakemake.params.backbone, Path(snakemake.output[0]).parent,
                         sha256=snakemake.params.sha256)
    print(f"weights of {snakemake.params.backbone}: {path}")
