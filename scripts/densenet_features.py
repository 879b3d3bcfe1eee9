"""MAFnet's visual window maps of one frames shard: DenseNet-201's last convolutional
maps, averaged over each one-second window's frames; float16 on disk."""

from pathlib import Path

from avrepro.features.densenet import shard_features
from avrepro.features.store import write_shard
from avrepro.jobs import job, resolve_device

params = snakemake.params

with job(snakemake.log[0]):
    clip_ids, maps, n_valid = shard_features(
        frames_path=Path(snakemake.input.frames),
        weights=Path(snakemake.input.weights) if snakemake.input.weights else None,
        batch_size=params.batch_size,
        device=resolve_device(params.device),
    )
    write_shard(Path(snakemake.output[0]), clip_ids, maps, n_valid)
    print(f"{len(clip_ids)} clips: maps {maps.shape}")
