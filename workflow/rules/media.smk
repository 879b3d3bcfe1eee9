# Decode each clip once per consumer: audio as WAV at the rate a consumer needs, frames
# once per sampling spec. One job per shard (manifest rows i mod n_shards). Each index
# records the seconds decoded and flags clips decoded short of their header (config
# `media`: kept and flagged, or dropped).


rule extract_audio:
    input:
        lambda w: manifest(w.dataset),
    output:
        directory("results/media/{dataset}/audio-{rate}/shard-{shard}"),
    params:
        media=config["media"],
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
        media=config["media"],
        # The shard layout (JPEG frames since avrepro-jpeg-frames-1): a new layout rebuilds
        # the stores, where readers would refuse shards of the old one.
        store_format=FRAME_STORE_FORMAT,
        quality=JPEG_QUALITY,
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


# How much of a dataset one media stream (frames-{spec}, audio-{rate}...) rests on: the
# manifest's coverage plus the usable clips decoded short of their header (`partial`).
rule media_coverage:
    input:
        manifest=lambda w: manifest(w.dataset),
        indexes=lambda w: (
            media_shards(w.dataset, w.stream, ".csv")
            if w.stream.startswith("frames-")
            else media_shards(w.dataset, w.stream, "")
        ),
    output:
        "results/media/{dataset}/{stream}/coverage.csv",
    wildcard_constraints:
        stream=r"(frames|audio)-[^/]+",
    localrule: True
    conda:
        ENV
    benchmark:
        "benchmarks/media_coverage/{dataset}/{stream}.tsv"
    log:
        "logs/media/{dataset}/{stream}/coverage.log",
    script:
        "../../scripts/media_coverage.py"
