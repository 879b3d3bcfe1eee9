"""MAFnet's audio window maps of one audio shard: VGGish conv4_2 per one-second window;
float16 on disk."""

from pathlib import Path

from avrepro.features.store import write_shard
from avrepro.features.vggish import shard_features
from avrepro.jobs import job, resolve_device

params = snakemake.params

with job(snakemake.log[0]):
    clip_ids, maps, n_valid = shard_features(
        audio_dir=Path(snakemake.input.audio),
        weights=Path(snakemake.input.weights) if snakemake.input.weights else None,
        n_clips=params.windows,
        batch_size=params.batch_size,
        device=resolve_device(params.device),
    )
    write_shard(Path(snakemake.output[0]), clip_ids, maps, n_valid)
    print(f"{len(clip_ids)} clips: maps {maps.shape}")
