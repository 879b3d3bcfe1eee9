"""Audio images of one shard, every representation, through one frozen backbone."""

from pathlib import Path

from avrepro.features.extract import audio_image_features
from avrepro.features.store import write_shard
from avrepro.jobs import job, resolve_device

params = snakemake.params

with job(snakemake.log[0]):
    clip_ids, features = audio_image_features(
        audio_dir=Path(snakemake.input.audio),
        backbone=snakemake.wildcards.backbone,
        weights=Path(snakemake.input.weights) if snakemake.input.weights else None,
        codes=params.representations,
        size=params.image_size,
        batch_size=params.batch_size,
        device=resolve_device(params.device),
        flips=params.flips,
    )
    for code, out in zip(params.representations, snakemake.output, strict=True):
        views = features[code]  # (N, V, dim): view 0 as rendered
        write_shard(Path(out), clip_ids, views[:, 0], views=views if params.flips else None)
    print(f"{len(clip_ids)} clips embedded")
