"""Decode the audio of one manifest shard to WAV files at the consumer's rate and channel
count: the path's {rate} wildcard, and its {channels} wildcard where the rule has one
(mono otherwise). A row's sound is its audio_path where the manifest has one (DCASE)."""

from pathlib import Path

from avrepro.data.manifest import read_manifest, shard_rows
from avrepro.jobs import job
from avrepro.media.shards import extract_audio_shard

w = snakemake.wildcards
n_shards = snakemake.config["datasets"][w.dataset]["n_shards"]
channels = int(w.get("channels", 1))
out_dir = Path(snakemake.output[0])

with job(snakemake.log[0]):
    rows = shard_rows(read_manifest(snakemake.input[0]), int(w.shard), n_shards)
    out_dir.mkdir(parents=True, exist_ok=True)
    media = snakemake.params.media
    index = extract_audio_shard(
        rows,
        out_dir,
        sample_rate=int(w.rate),
        channels=channels,
        partial_policy=media["partial"],
        tolerance_s=media["partial_tolerance_s"],
    )
    index.to_csv(out_dir / "index.csv", index=False)
    print(index.audio_status.value_counts().to_string())
    print(f"partial: {int(index.partial.sum())}")
