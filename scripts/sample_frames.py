"""Decode the clips of one manifest shard once and keep the frames a sampling spec asks for."""

from pathlib import Path

from avrepro.data.manifest import read_manifest, shard_rows
from avrepro.jobs import job
from avrepro.media.shards import sample_frames_shard

w = snakemake.wildcards
n_shards = snakemake.config["datasets"][w.dataset]["n_shards"]

with job(snakemake.log[0]):
    rows = shard_rows(read_manifest(snakemake.input[0]), int(w.shard), n_shards)
    media = snakemake.params.media
    index = sample_frames_shard(
        rows,
        snakemake.params.spec,
        Path(snakemake.output.frames),
        partial_policy=media["partial"],
        tolerance_s=media["partial_tolerance_s"],
    )
    index.to_csv(snakemake.output.index, index=False)
    print(index.frames_status.value_counts().to_string())
    print(f"partial: {int(index.partial.sum())}")
