"""Lee et al.'s VGGish features of one audio shard: Google's post-processed embeddings of
each clip's first n_examples 0.96-s examples, (clips, n_examples, 128), values 0..255."""

from pathlib import Path

from avrepro.features.store import write_shard
from avrepro.features.vggish import embedding_shard_features
from avrepro.jobs import job, resolve_device

params = snakemake.params

with job(snakemake.log[0]):
    clip_ids, features = embedding_shard_features(
        audio_dir=Path(snakemake.input.audio),
        weights=Path(snakemake.input.weights) if snakemake.input.weights else None,
        pca_weights=Path(snakemake.input.pca) if snakemake.input.pca else None,
        n_examples=params.n_examples,
        batch_size=params.batch_size,
        device=resolve_device(params.device),
    )
    write_shard(Path(snakemake.output[0]), clip_ids, features)
    print(f"{len(clip_ids)} clips: embeddings {features.shape}")
