# Acquire raw datasets (download in the full tier, synthesize in the smoke tier) and
# write one manifest per dataset. Downloads run on the submit host: compute nodes are
# assumed offline. Priorities fall stage by stage (data 3, media 2, features 1, training
# 0) so that every dataset's branch opens early and the cores stay busy to the end.


localrules:
    acquire_raw,
    acquire_audioset_labels,
    download_bert,


# Kinetics is large: only the classes and splits that configured datasets use are fetched.
rule acquire_raw:
    input:
        # A local copy (acquire: local): a changed folder links again.
        lambda w: [config["raw"][w.raw]["path"]] if config["raw"][w.raw]["acquire"] == "local" else [],
    output:
        "resources/{raw}/.complete",
    params:
        cfg=lambda w: config["raw"][w.raw],
        classes=lambda w: raw_classes(w.raw),
        splits=lambda w: sorted({s for d in datasets_of(w.raw) for s in d.get("splits", {}).values()}),
    threads: config["io_threads"]
    priority: 3
    conda:
        ENV
    benchmark:
        "benchmarks/acquire_raw/{raw}.tsv",
    log:
        "logs/acquire/{raw}.log",
    script:
        "../../scripts/acquire_raw.py"


# AudioSet's label list (IMD): a file, not a dataset of clips; its own rule names it.
rule acquire_audioset_labels:
    input:
        # A local copy (acquire: local): a changed file acquires again.
        lambda w: [RAW_LABELS["path"]] if RAW_LABELS.get("acquire") == "local" else [],
    output:
        AUDIOSET_LABELS,
    params:
        cfg=RAW_LABELS,
    conda:
        ENV
    benchmark:
        "benchmarks/acquire_raw/audioset_labels.tsv"
    log:
        "logs/acquire/audioset_labels.log",
    script:
        "../../scripts/acquire_audioset_labels.py"


# IMD's SAVLD embeds labels with bert-base-uncased: a folder of three pinned files.
rule download_bert:
    output:
        directory(BERT_DIR),
    conda:
        ENV
    benchmark:
        "benchmarks/download_weights_bert.tsv"
    log:
        "logs/weights/bert-base-uncased.log",
    script:
        "../../scripts/download_bert.py"


# One localrule per backbone: jobs on compute nodes load weights from these files only.
for _backbone in KNOWN_WEIGHTS:

    rule:
        name:
            f"download_weights_{_backbone}"
        output:
            weights_file(_backbone),
        params:
            backbone=_backbone,
            sha256=config["backbones"].get("sha256", {}).get(_backbone),
        localrule: True
        conda:
            ENV
        benchmark:
            f"benchmarks/download_weights_{_backbone}.tsv",
        log:
            f"logs/weights/{_backbone}.log",
        script:
            "../../scripts/download_weights.py"


rule manifest:
    input:
        lambda w: f"resources/{config['datasets'][w.dataset]['raw']}/.complete",
    output:
        manifest="results/manifests/{dataset}.csv",
        coverage="results/manifests/{dataset}.coverage.csv",
    params:
        cfg=lambda w: config["datasets"][w.dataset],
        root=lambda w: f"resources/{config['datasets'][w.dataset]['raw']}",
    threads: config["io_threads"]
    priority: 3
    conda:
        ENV
    benchmark:
        "benchmarks/manifest/{dataset}.tsv",
    log:
        "logs/manifest/{dataset}.log",
    script:
        "../../scripts/build_manifest.py"
