"""Two-phase's audio input for one audio shard: one spectrogram kind (MEL, GAM or CQT)
with deltas and delta-deltas, float16 on disk."""

from pathlib import Path

from avrepro.features.spectrograms import SpectrogramSpec, spectrogram_shard
from avrepro.features.store import write_shard
from avrepro.jobs import job

with job(snakemake.log[0]):
    clip_ids, features = spectrogram_shard(
        Path(snakemake.input.audio), snakemake.wildcards.kind,
        SpectrogramSpec(**snakemake.params.spec),
    )
    write_shard(Path(snakemake.output[0]), clip_ids, features)
    print(f"{len(clip_ids)} clips: {features.shape}")
