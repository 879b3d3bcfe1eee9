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
