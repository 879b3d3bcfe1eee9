"""Lee et al.'s AENet features of one audio shard: one 1024-d vector per clip, the mean of
its per-second AENet features; float32 on disk."""

from pathlib import Path

from avrepro.features.aenet import shard_features
from avrepro.features.store import write_shard
from avrepro.jobs import job, resolve_device

params = snakemake.params

with job(snakemake.log[0]):
    clip_ids, features = shard_features(
        audio_dir=Path(snakemake.input.audio),
        weights=Path(snakemake.input.weights) if snakemake.input.weights else None,
        batch_size=params.batch_size,
        device=resolve_device(params.device),
    )
    write_shard(Path(snakemake.output[0]), clip_ids, features)
    print(f"{len(clip_ids)} clips: features {features.shape}")
