# Train classifiers on frozen features; one run folder per (paper, dataset, variant, seed),
# one job per seed or per variant's seeds (`seeds_per_job`, see common.smk). `code` is a
# digest of the package modules the training imports (avrepro.code_digest): a run reruns
# when they change.
rule train_maivar:
    input:
        unpack(maivar_train_inputs),
    output:
        **run_outputs("maivar", RUN_FILES),
    wildcard_constraints:
        variant=models_pattern(PAPER_MODELS["maivar"]),
    params:
        seeds=job_seeds,
        code=code_digest("avrepro.train.maivar"),
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
    wildcard_constraints:
        variant=models_pattern(PAPER_MODELS["mafnet"]),
    params:
        seeds=job_seeds,
        code=code_digest("avrepro.train.mafnet"),
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
        code=code_digest("avrepro.train.twophase"),
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
        code=code_digest("avrepro.train.twophase"),
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


# Lee et al.: TSN's RGB and flow streams fine-tuned on the sampled frames and flow; each
# run also writes every clip's per-frame features, which the generators read (same seed).
# Before other training (priority 1): every sound run with a generator waits for both.
rule train_tsn:
    input:
        unpack(tsn_inputs),
    output:
        **run_outputs("audiogen", {**RUN_FILES, "features": "frame_features.npz"}),
    wildcard_constraints:
        variant=r"tsn_[a-z0-9_.-]+",
    params:
        seeds=job_seeds,
        code=code_digest("avrepro.train.tsn"),
        hparams=AUDIOGEN["tsn"],
        device=device(),
    resources:
        gpu=1,
    priority: 1
    conda:
        ENV
    benchmark:
        f"benchmarks/train_tsn/{{dataset}}/{{variant}}/{JOB_NAME}.tsv"
    log:
        f"logs/audiogen/{{dataset}}/{{variant}}/{JOB_NAME}.log",
    script:
        "../../scripts/train_tsn.py"


# A sound run: a generator (if any) fills in the soundless clips' sound feature, then the
# SVMs classify the sound feature (Tables 2 and 3).
rule train_sound:
    input:
        unpack(sound_inputs),
    output:
        **run_outputs("audiogen", {**RUN_FILES, "generated": "generated.npz"}),
    wildcard_constraints:
        variant=r"svm_[a-z0-9_.-]+",
    params:
        seeds=job_seeds,
        code=code_digest("avrepro.train.audiogen"),
        hparams=lambda w: {k: AUDIOGEN[k] for k in ("val_fraction", "generator", "svm")},
        device=device(),
    resources:
        gpu=1,
    conda:
        ENV
    benchmark:
        f"benchmarks/train_sound/{{dataset}}/{{variant}}/{JOB_NAME}.tsv"
    log:
        f"logs/audiogen/{{dataset}}/{{variant}}/{JOB_NAME}.log",
    script:
        "../../scripts/train_audiogen.py"


# Late fusion adds the runs' probabilities (Table 4); it trains nothing.
rule late_fusion:
    input:
        unpack(late_inputs),
    output:
        **run_outputs("audiogen", {k: v for k, v in RUN_FILES.items() if k != "model"}),
    wildcard_constraints:
        variant=r"late_[a-z0-9_.-]+",
    params:
        seeds=job_seeds,
        code=code_digest("avrepro.train.late_fusion"),
        tsn_weights=AUDIOGEN["tsn_weights"],
    conda:
        ENV
    benchmark:
        f"benchmarks/late_fusion/{{dataset}}/{{variant}}/{JOB_NAME}.tsv"
    log:
        f"logs/audiogen/{{dataset}}/{{variant}}/{JOB_NAME}.log",
    script:
        "../../scripts/late_fusion.py"


# IMD: the smoke tier has no AudioSet weights for AST, and random ones would make the
# relevance target noise; it trains a small AST of the same architecture on its synthetic
# AudioSet instead (imd.ast.train), once.
if "train" in IMD["ast"]:

    rule train_ast:
        input:
            done=f"resources/{IMD['ast']['train']['raw']}/.complete",
            labels=AUDIOSET_LABELS,
        output:
            weights="results/imd/ast-smoke/model.pt",
            metrics="results/imd/ast-smoke/metrics.json",
        params:
            code=code_digest("avrepro.train.ast_smoke"),
            audioset=lambda w, input: os.path.dirname(input.done),
            model=IMD["ast"]["model"],
            schedule=IMD["ast"]["train"]["schedule"],
            held_out=IMD["ast"]["train"]["held_out"],
            seed=IMD["ast"]["train"]["seed"],
            device=device(),
        resources:
            gpu=1,
        priority: 2
        conda:
            ENV
        benchmark:
            "benchmarks/train_ast/ast-smoke.tsv"
        log:
            "logs/imd/ast-smoke.log",
        script:
            "../../scripts/train_ast.py"


# IMD's runs: the two-stream video transformer, AST's audio and the relevance network,
# trained on every GPU of a node (torchrun inside the job; imd.gpus_per_job).
rule train_imd:
    input:
        unpack(imd_inputs),
    output:
        **run_outputs("imd", {**RUN_FILES, "relevance": "relevance.parquet"}),
    wildcard_constraints:
        variant=r"imd_[a-z0-9_.-]+",
    params:
        seeds=job_seeds,
        code=code_digest("avrepro.train.imd"),
        hparams={
            **{k: v for k, v in IMD.items() if k not in ("savld", "ast", "flow", "gpus_per_job")},
            "ast_model": IMD["ast"]["model"],  # its cost in Table 6
        },
        plan=imd_plan,
        device=device(),
    resources:
        gpu=IMD["gpus_per_job"],
    conda:
        ENV
    benchmark:
        f"benchmarks/train_imd/{{dataset}}/{{variant}}/{JOB_NAME}.tsv"
    log:
        f"logs/imd/{{dataset}}/{{variant}}/{JOB_NAME}.log",
    script:
        "../../scripts/train_imd.py"


# Methods added as rows (avrepro.methods): a rule per declared method, its inputs, schedule
# and outputs from the declaration; `code` covers the method's module and what it imports.
for _method in METHODS.values():

    rule:
        name:
            f"train_{_method.paper}_{_method.model}"
        input:
            unpack(lambda w, method=_method: method_inputs(method, w)),
        output:
            **run_outputs(_method.paper, METHOD_RUN_FILES),
        wildcard_constraints:
            variant=_method.pattern,
        params:
            seeds=job_seeds,
            code=code_digest(_method.module),
            method=_method.module,
            schedule=_method.schedule,
            device=device(),
        resources:
            **({"gpu": 1} if _method.gpu else {}),
        conda:
            ENV
        benchmark:
            f"benchmarks/train_{_method.paper}_{_method.model}/{{dataset}}/{{variant}}/{JOB_NAME}.tsv"
        log:
            f"logs/{_method.paper}/{{dataset}}/{{variant}}/{JOB_NAME}.log",
        script:
            "../../scripts/train_method.py"
