"""Sampled frames of one shard through one frozen video backbone."""

from pathlib import Path

from avrepro.features.extract import video_features
from avrepro.features.store import write_shard
from avrepro.jobs import job, resolve_device

params = snakemake.params

with job(snakemake.log[0]):
    clip_ids, features, views = video_features(
        frames_path=Path(snakemake.input.frames),
        backbone=snakemake.wildcards.backbone,
        weights=Path(snakemake.input.weights) if snakemake.input.weights else None,
        batch_size=params.batch_size,
        device=resolve_device(params.device),
    )
    write_shard(Path(snakemake.output[0]), clip_ids, features, views=views)
    print(f"{len(clip_ids)} clips embedded: {features.shape}, views "
          f"{None if views is None else views.shape}")
