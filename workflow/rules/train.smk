# Train classifiers on frozen features; one run folder per (paper, dataset, variant, seed).
from avrepro.naming import parse_variant
from avrepro.train.maivar import variant_inputs

MAIVAR_VIDEO = f"{MAIVAR['video_backbone']}-{MAIVAR['frames']}"


def maivar_train_inputs(w):
    needs = variant_inputs(w.variant, MAIVAR_VIDEO)
    inputs = {"manifest": manifest(w.dataset)}
    if needs.audio:
        inputs["audio"] = feature_shards(w.dataset, needs.audio)
    if needs.video:
        inputs["video"] = feature_shards(w.dataset, needs.video)
    if parse_variant(w.variant)[0] == "dhf":
        # Algorithm 1: the fusion network starts from the trained video MLP of the same seed.
        inputs["video_mlp"] = f"{run_dir('maivar', w.dataset, 'vmlp', w.seed)}/model.pt"
    return inputs


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
        hparams={
            k: MAIVAR[k] for k in ("val_fraction", "standardize", "hidden", "vmlp", "amlp", "dhf")
        },
        device=device(),
    resources:
        gpu=1,
    log:
        "logs/maivar/{dataset}/{variant}/seed{seed}.log",
    script:
        "../../scripts/train_maivar.py"
