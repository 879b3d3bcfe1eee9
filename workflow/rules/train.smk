# Train classifiers on frozen features; one run folder per (paper, dataset, variant, seed).
rule train_maivar:
    input:
        unpack(maivar_train_inputs),
    output:
        metrics="results/maivar/{dataset}/{variant}/seed{seed}/metrics.json",
        history="results/maivar/{dataset}/{variant}/seed{seed}/history.csv",
        predictions="results/maivar/{dataset}/{variant}/seed{seed}/predictions.parquet",
        model="results/maivar/{dataset}/{variant}/seed{seed}/model.pt",
    params:
        n_classes=lambda w: len(config["datasets"][w.dataset]["classes"]),
        hparams=lambda w: maivar_hparams(w.variant),
        device=device(),
    resources:
        gpu=1,
    conda:
        ENV
    benchmark:
        "benchmarks/train_maivar/{dataset}/{variant}/seed{seed}.tsv",
    log:
        "logs/maivar/{dataset}/{variant}/seed{seed}.log",
    script:
        "../../scripts/train_maivar.py"


rule train_mafnet:
    input:
        unpack(mafnet_train_inputs),
    output:
        metrics="results/mafnet/{dataset}/{variant}/seed{seed}/metrics.json",
        history="results/mafnet/{dataset}/{variant}/seed{seed}/history.csv",
        predictions="results/mafnet/{dataset}/{variant}/seed{seed}/predictions.parquet",
        model="results/mafnet/{dataset}/{variant}/seed{seed}/model.pt",
    params:
        n_classes=lambda w: len(config["datasets"][w.dataset]["classes"]),
        hparams=lambda w: mafnet_hparams(w.variant),
        val_fraction=MAFNET["val_fraction"],
        device=device(),
    resources:
        gpu=1,
    conda:
        ENV
    benchmark:
        "benchmarks/train_mafnet/{dataset}/{variant}/seed{seed}.tsv",
    log:
        "logs/mafnet/{dataset}/{variant}/seed{seed}.log",
    script:
        "../../scripts/train_mafnet.py"


# Two-phase, phase I: a branch per spectrogram and per visual CNN, each writing the
# embeddings of every clip it used for phase II.
rule train_twophase_branch:
    input:
        unpack(twophase_branch_inputs),
    output:
        metrics="results/twophase/{dataset}/{variant}/seed{seed}/metrics.json",
        history="results/twophase/{dataset}/{variant}/seed{seed}/history.csv",
        predictions="results/twophase/{dataset}/{variant}/seed{seed}/predictions.parquet",
        model="results/twophase/{dataset}/{variant}/seed{seed}/model.pt",
        fc1024="results/twophase/{dataset}/{variant}/seed{seed}/emb-fc1024.npz",
        fc10="results/twophase/{dataset}/{variant}/seed{seed}/emb-fc10.npz",
    wildcard_constraints:
        variant=r"(aud|vis)_[a-z0-9_.-]+",
    params:
        hparams=twophase_hparams,
        device=device(),
    resources:
        gpu=1,
    conda:
        ENV
    benchmark:
        "benchmarks/train_twophase_branch/{dataset}/{variant}/seed{seed}.tsv",
    log:
        "logs/twophase/{dataset}/{variant}/seed{seed}.log",
    script:
        "../../scripts/train_twophase.py"


# Phase II: the branches frozen, a fusion layer and a classifier on their embeddings.
rule train_twophase_fusion:
    input:
        unpack(twophase_fusion_inputs),
    output:
        metrics="results/twophase/{dataset}/{variant}/seed{seed}/metrics.json",
        history="results/twophase/{dataset}/{variant}/seed{seed}/history.csv",
        predictions="results/twophase/{dataset}/{variant}/seed{seed}/predictions.parquet",
        model="results/twophase/{dataset}/{variant}/seed{seed}/model.pt",
    wildcard_constraints:
        variant=r"fusion_[a-z0-9_.-]+",
    params:
        hparams=twophase_hparams,
        device=device(),
    resources:
        gpu=1,
    conda:
        ENV
    benchmark:
        "benchmarks/train_twophase_fusion/{dataset}/{variant}/seed{seed}.tsv",
    log:
        "logs/twophase/{dataset}/{variant}/seed{seed}.log",
    script:
        "../../scripts/train_twophase.py"
