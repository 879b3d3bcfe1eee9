# Frozen backbones turn media into features: one store per (dataset, extractor), where an
# extractor is `{backbone}-{input}` (input: an audio-image representation or a frame spec).
# `code`: a digest of the package modules the extractor imports (avrepro.code_digest).


rule audio_image_features:
    # The fusion backbone, every representation of a shard in one job: the clip's STFT is
    # computed once, the images rendered once.
    input:
        audio=f"results/media/{{dataset}}/audio-{MAIVAR['audio_rate']}/shard-{{shard}}",
        weights=lambda w: weights_input(w.backbone),
    output:
        expand("results/features/{{dataset}}/{{backbone}}-{rep}/shard-{{shard}}.npz", rep=REPS),
    wildcard_constraints:
        backbone=MAIVAR["fusion_backbone"],
    params:
        code=code_digest("avrepro.features.extract"),
        representations=REPS,
        image_size=MAIVAR["image_size"],
        flips=MAIVAR["audio_flips"],
        batch_size=MAIVAR["extract_batch_size"],
        device=device(),
    resources:
        gpu=1,
    priority: 1
    conda:
        ENV
    benchmark:
        "benchmarks/audio_image_features/{dataset}/{backbone}-audio/shard-{shard}.tsv"
    log:
        "logs/features/{dataset}/{backbone}-audio/shard-{shard}.log",
    script:
        "../../scripts/audio_image_features.py"


# Figure 6's other backbones embed only the representations it compares, each at its own
# training size (registry.audio_image_size). A rule only where Figure 6 compares other
# backbones: an empty wildcard constraint would constrain nothing.
if COMPARED_BACKBONES:

    use rule audio_image_features as audio_image_features_compared with:
        output:
            expand(
                "results/features/{{dataset}}/{{backbone}}-{rep}/shard-{{shard}}.npz",
                rep=COMPARE_REPS,
            ),
        wildcard_constraints:
            backbone="|".join(COMPARED_BACKBONES),
        params:
            code=code_digest("avrepro.features.extract"),
            representations=COMPARE_REPS,
            image_size=lambda w: audio_image_size(
                w.backbone, MAIVAR["fusion_backbone"], MAIVAR["image_size"]
            ),
            flips=MAIVAR["audio_flips"],
            batch_size=MAIVAR["extract_batch_size"],
            device=device(),
        benchmark:
            "benchmarks/audio_image_features_compared/{dataset}/{backbone}-audio/shard-{shard}.tsv"
        log:
            "logs/features/{dataset}/{backbone}-audio/shard-{shard}.log"


rule video_features:
    input:
        frames="results/media/{dataset}/frames-{spec}/shard-{shard}.npz",
        weights=lambda w: weights_input(w.backbone),
    output:
        "results/features/{dataset}/{backbone}-{spec}/shard-{shard}.npz",
    params:
        code=code_digest("avrepro.features.extract"),
        batch_size=MAIVAR["extract_batch_size"],
        device=device(),
    resources:
        gpu=1,
    priority: 1
    conda:
        ENV
    benchmark:
        "benchmarks/video_features/{dataset}/{backbone}-{spec}/shard-{shard}.tsv",
    log:
        "logs/features/{dataset}/{backbone}-{spec}/shard-{shard}.log",
    script:
        "../../scripts/video_features.py"


# MAFnet's window maps: one store per modality, each clip's T one-second windows.
rule densenet_features:
    input:
        frames="results/media/{dataset}/frames-{spec}/shard-{shard}.npz",
        weights=lambda w: weights_input("densenet201"),
    output:
        "results/features/{dataset}/densenet201-{spec}/shard-{shard}.npz",
    params:
        code=code_digest("avrepro.features.densenet"),
        batch_size=MAFNET["extract_batch_size"],
        device=device(),
    resources:
        gpu=1,
    priority: 1
    conda:
        ENV
    benchmark:
        "benchmarks/densenet_features/{dataset}/densenet201-{spec}/shard-{shard}.tsv",
    log:
        "logs/features/{dataset}/densenet201-{spec}/shard-{shard}.log",
    script:
        "../../scripts/densenet_features.py"


rule vggish_features:
    input:
        audio=f"results/media/{{dataset}}/audio-{MAFNET_AUDIO_RATE}/shard-{{shard}}",
        weights=lambda w: weights_input("vggish"),
    output:
        "results/features/{dataset}/vggish-t{windows}/shard-{shard}.npz",
    params:
        code=code_digest("avrepro.features.vggish"),
        windows=lambda w: int(w.windows),
        batch_size=MAFNET["extract_batch_size"],
        device=device(),
    resources:
        gpu=1,
    priority: 1
    conda:
        ENV
    benchmark:
        "benchmarks/vggish_features/{dataset}/vggish-t{windows}/shard-{shard}.tsv",
    log:
        "logs/features/{dataset}/vggish-t{windows}/shard-{shard}.log",
    script:
        "../../scripts/vggish_features.py"


# Two-phase's audio input: one store per spectrogram (MEL, GAM, CQT) with deltas.
rule spectrogram_features:
    input:
        audio=f"results/media/{{dataset}}/{TWOPHASE_AUDIO}/shard-{{shard}}",
    output:
        "results/features/{dataset}/spec-{kind}/shard-{shard}.npz",
    params:
        code=code_digest("avrepro.features.spectrograms"),
        spec=TWOPHASE["spectrogram"],
    priority: 1
    conda:
        ENV
    benchmark:
        "benchmarks/spectrogram_features/{dataset}/spec-{kind}/shard-{shard}.tsv",
    log:
        "logs/features/{dataset}/spec-{kind}/shard-{shard}.log",
    script:
        "../../scripts/spectrogram_features.py"


# Lee et al.'s sound features, both from the 16-kHz mono WAVs (§3.2): AENet's 1024-d
# feature, one vector per clip; VGGish's PCA-postprocessed 128-d embedding per 0.96-s example.
rule aenet_features:
    input:
        audio=f"results/media/{{dataset}}/{AUDIOGEN_AUDIO}/shard-{{shard}}",
        weights=lambda w: weights_input("aenet"),
        # The released input normalisation, which the loader reads beside model.pkl.
        mean=lambda w: weights_input("aenet_mean"),
        std=lambda w: weights_input("aenet_std"),
    output:
        "results/features/{dataset}/aenet/shard-{shard}.npz",
    params:
        code=code_digest("avrepro.features.aenet"),
        batch_size=AUDIOGEN["extract_batch_size"],
        device=device(),
    resources:
        gpu=1,
    priority: 1
    conda:
        ENV
    benchmark:
        "benchmarks/aenet_features/{dataset}/aenet/shard-{shard}.tsv"
    log:
        "logs/features/{dataset}/aenet/shard-{shard}.log",
    script:
        "../../scripts/aenet_features.py"


rule vggish_embeddings:
    input:
        audio=f"results/media/{{dataset}}/{AUDIOGEN_AUDIO}/shard-{{shard}}",
        weights=lambda w: weights_input("vggish"),
        pca=lambda w: weights_input("vggish_pca"),
    output:
        "results/features/{dataset}/vggish-e{examples}/shard-{shard}.npz",
    params:
        code=code_digest("avrepro.features.vggish"),
        n_examples=lambda w: int(w.examples),
        batch_size=AUDIOGEN["extract_batch_size"],
        device=device(),
    resources:
        gpu=1,
    priority: 1
    conda:
        ENV
    benchmark:
        "benchmarks/vggish_embeddings/{dataset}/vggish-e{examples}/shard-{shard}.tsv"
    log:
        "logs/features/{dataset}/vggish-e{examples}/shard-{shard}.log",
    script:
        "../../scripts/vggish_embeddings.py"


# IMD (§3.1): the label dictionary SAVLD, each video label's k_max nearest AudioSet labels
# under one sentence embedder, for each of Table 2's distances (the labels are embedded
# once); a results file, the same bytes every run.
rule savld:
    input:
        manifest=lambda w: manifest(w.dataset),
        audio_labels=AUDIOSET_LABELS,
        weights=lambda w: embedder_weights(w.embedder),
    output:
        expand(
            "results/imd/savld/{{dataset}}/emb-{{embedder}}_dist-{distance}.csv",
            distance=imd_variants.DISTANCES,
        ),
    params:
        code=code_digest("avrepro.savld", "avrepro.features.text_embedders"),
        k=IMD["savld"]["k_max"],
        distances=imd_variants.DISTANCES,
        # Kinetics' dictionary maps all 400 classes (Table 1 names some a tier may lack);
        # another dataset's, its manifest's classes.
        vocabulary=lambda w: (
            "kinetics400" if config["datasets"][w.dataset]["raw"] == "kinetics400" else "manifest"
        ),
        pretrained=config["backbones"]["pretrained"],
    conda:
        ENV
    benchmark:
        "benchmarks/savld/{dataset}/emb-{embedder}.tsv"
    log:
        "logs/imd/savld/{dataset}/emb-{embedder}.log",
    script:
        "../../scripts/build_savld.py"


# IMD's frozen AST (§3.3) over each clip's 16-kHz audio, once: its embedding (what the
# audio bottleneck reads) and its 527 AudioSet probabilities (the relevance target's input).
rule ast_features:
    input:
        audio=f"results/media/{{dataset}}/{IMD_AUDIO}/shard-{{shard}}",
        weights=ast_weights(),
    output:
        f"results/features/{{dataset}}/{IMD_AST}/shard-{{shard}}.npz",
    params:
        code=code_digest("avrepro.features.ast_features"),
        model=IMD["ast"]["model"],
        batch_size=IMD["ast"]["batch_size"],
        device=device(),
    resources:
        gpu=1,
    priority: 1
    conda:
        ENV
    benchmark:
        f"benchmarks/ast_features/{{dataset}}/{IMD_AST}/shard-{{shard}}.tsv"
    log:
        f"logs/features/{{dataset}}/{IMD_AST}/shard-{{shard}}.log",
    script:
        "../../scripts/ast_features.py"
