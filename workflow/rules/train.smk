# Train classifiers on frozen features; one run folder per (paper, dataset, variant, seed),
# one job per seed or per variant's seeds (`seeds_per_job`, see common.smk).
rule train_maivar:
    input:
        unpack(maivar_train_inputs),
    output:
        **run_outputs("maivar", RUN_FILES),
    params:
        seeds=job_seeds,
        n_classes=lambda w: len(config["datasets"][w.dataset]["classes"]),
        hparams=lambda w: maivar_hparams(w.variant),
        device=device(),
    resources:
        gpu=1,
    conda:
        ENV
    benchmark:
        f"benchmarks/train_maivar/{{dataset}}/{{variant}}/{JOB_NAME}.tsv"
    log:
        f"logs/maivar/{{dataset}}/{{variant}}/{JOB_NAME}.log",
    script:
        "../../scripts/train_maivar.py"


rule train_mafnet:
    input:
        unpack(mafnet_train_inputs),
    output:
        **run_outputs("mafnet", RUN_FILES),
    params:
        seeds=job_seeds,
        n_classes=lambda w: len(config["datasets"][w.dataset]["classes"]),
        hparams=lambda w: mafnet_hparams(w.variant),
        val_fraction=MAFNET["val_fraction"],
        device=device(),
    resources:
        gpu=1,
    conda:
        ENV
    benchmark:
        f"benchmarks/train_mafnet/{{dataset}}/{{variant}}/{JOB_NAME}.tsv"
    log:
        f"logs/mafnet/{{dataset}}/{{variant}}/{JOB_NAME}.log",
    script:
        "../../scripts/train_mafnet.py"


# Two-phase, phase I: a branch per spectrogram and per visual CNN, each writing the
# embeddings of every clip it used for phase II. Before other training (priority 1, as
# features): every fusion waits for all five branches, the longest jobs of the smoke tier.
rule train_twophase_branch:
    input:
        unpack(twophase_branch_inputs),
    output:
        **run_outputs(
            "twophase", {**RUN_FILES, "fc1024": "emb-fc1024.npz", "fc10": "emb-fc10.npz"}
        ),
    wildcard_constraints:
        variant=r"(aud|vis)_[a-z0-9_.-]+",
    params:
        seeds=job_seeds,
        hparams=twophase_hparams,
        device=device(),
    resources:
        gpu=1,
    priority: 1
    conda:
        ENV
    benchmark:
        f"benchmarks/train_twophase_branch/{{dataset}}/{{variant}}/{JOB_NAME}.tsv"
    log:
        f"logs/twophase/{{dataset}}/{{variant}}/{JOB_NAME}.log",
    script:
        "../../scripts/train_twophase.py"


# Phase II: the branches frozen, a fusion layer and a classifier on their embeddings.
rule train_twophase_fusion:
    input:
        unpack(twophase_fusion_inputs),
    output:
        **run_outputs("twophase", RUN_FILES),
    wildcard_constraints:
        variant=r"fusion_[a-z0-9_.-]+",
    params:
        seeds=job_seeds,
        hparams=twophase_hparams,
        device=device(),
    resources:
        gpu=1,
    conda:
        ENV
    benchmark:
        f"benchmarks/train_twophase_fusion/{{dataset}}/{{variant}}/{JOB_NAME}.tsv"
    log:
        f"logs/twophase/{{dataset}}/{{variant}}/{JOB_NAME}.log",
    script:
        "../../scripts/train_twophase.py"
