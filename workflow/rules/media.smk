# Decode each clip once per consumer: audio as WAV at the rate a consumer needs, frames
# once per sampling spec. One job per shard (manifest rows i mod n_shards).


rule extract_audio:
    input:
        lambda w: manifest(w.dataset),
    output:
        directory("results/media/{dataset}/audio-{rate}/shard-{shard}"),
    priority: 2
    conda:
        ENV
    benchmark:
        "benchmarks/extract_audio/{dataset}/audio-{rate}/shard-{shard}.tsv",
    log:
        "logs/media/{dataset}/audio-{rate}/shard-{shard}.log",
    script:
        "../../scripts/extract_audio.py"


# Several channels (two-phase keeps the stereo pair): audio-{rate}-ch{channels}.
use rule extract_audio as extract_audio_channels with:
    output:
        directory("results/media/{dataset}/audio-{rate}-ch{channels}/shard-{shard}"),
    benchmark:
        "benchmarks/extract_audio_channels/{dataset}/audio-{rate}-ch{channels}/shard-{shard}.tsv",
    log:
        "logs/media/{dataset}/audio-{rate}-ch{channels}/shard-{shard}.log",


rule sample_frames:
    input:
        lambda w: manifest(w.dataset),
    output:
        frames="results/media/{dataset}/frames-{spec}/shard-{shard}.npz",
        index="results/media/{dataset}/frames-{spec}/shard-{shard}.csv",
    params:
        spec=lambda w: config["frames"][w.spec],
    priority: 2
    conda:
        ENV
    benchmark:
        "benchmarks/sample_frames/{dataset}/frames-{spec}/shard-{shard}.tsv",
    log:
        "logs/media/{dataset}/frames-{spec}/shard-{shard}.log",
    script:
        "../../scripts/sample_frames.py"


# Optical flow between consecutive sampled frames, 8-bit x/y as TSN stores it (Lee et al.'s
# and IMD's flow streams, each with its own settings: FLOW). TV-L1 runs on the CPU;
# `flow.method: raft` on a GPU instead.
rule optical_flow:
    input:
        frames="results/media/{dataset}/frames-{spec}/shard-{shard}.npz",
        weights=lambda w: (
            weights_input(FLOW[w.spec].get("model", "raft_large"))
            if FLOW[w.spec]["method"] == "raft"
            else []
        ),
    output:
        flow="results/media/{dataset}/flow-{spec}/shard-{shard}.npz",
    params:
        flow=lambda w: FLOW[w.spec],
        device=device(),
    priority: 2
    conda:
        ENV
    benchmark:
        "benchmarks/optical_flow/{dataset}/flow-{spec}/shard-{shard}.tsv"
    log:
        "logs/media/{dataset}/flow-{spec}/shard-{shard}.log",
    script:
        "../../scripts/optical_flow.py"
