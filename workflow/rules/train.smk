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
    log:
        "logs/mafnet/{dataset}/{variant}/seed{seed}.log",
    script:
        "../../scripts/train_mafnet.py"
