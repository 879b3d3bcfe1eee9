# MAiVAR's figures, each from run folders and features only.
rule fig6_maivar:
    input:
        maivar_runs(
            "ucf51",
            [
                f"amlp_rep-{rep}_bb-{backbone_code(b)}"
                for b in MAIVAR["compare_backbones"]
                for rep in MAIVAR["compare_representations"]
            ],
            "metrics.json",
        ),
    output:
        figure_outputs("fig6_maivar"),
    conda:
        ENV
    benchmark:
        "benchmarks/fig6_maivar.tsv",
    log:
        "logs/figures/fig6_maivar.log",
    script:
        "../../scripts/fig6_maivar.py"


rule fig7_maivar:
    input:
        maivar_runs(
            "ucf51",
            [f"dhf_rep-{rep}_bb-{FUSION_CODE}" for rep in REPS],
            "history.csv",
        ),
    output:
        figure_outputs("fig7_maivar"),
    conda:
        ENV
    benchmark:
        "benchmarks/fig7_maivar.tsv",
    log:
        "logs/figures/fig7_maivar.log",
    script:
        "../../scripts/fig7_maivar.py"


rule fig8_maivar:
    input:
        manifest=manifest("kinetics_sounds"),
        video=feature_shards("kinetics_sounds", MAIVAR_VIDEO),
        audio=feature_shards("kinetics_sounds", f"{MAIVAR['fusion_backbone']}-ch"),
        model=f"{run_dir('maivar', 'kinetics_sounds', MAIVAR_FUSION_CH, config['seeds'][0])}/model.pt",
    output:
        figure_outputs("fig8_maivar"),
    params:
        classes=config["datasets"]["kinetics_sounds"]["classes"],
        tsne=MAIVAR["tsne"],
        hidden=MAIVAR["hidden"],
    conda:
        ENV
    benchmark:
        "benchmarks/fig8_maivar.tsv",
    log:
        "logs/figures/fig8_maivar.log",
    script:
        "../../scripts/fig8_maivar.py"


rule fig9_maivar:
    input:
        manifest=manifest("ucf51"),
        audio=f"results/media/ucf51/audio-{MAIVAR['audio_rate']}/shard-000",
        frames=f"results/media/ucf51/frames-{MAIVAR['frames']}/shard-000.npz",
    output:
        figure_outputs("fig9_maivar"),
    params:
        image_size=MAIVAR["image_size"],
    conda:
        ENV
    benchmark:
        "benchmarks/fig9_maivar.tsv",
    log:
        "logs/figures/fig9_maivar.log",
    script:
        "../../scripts/fig9_maivar.py"


# MAFnet's figures, on AVE.
rule fig6_mafnet:
    input:
        [
            f"{run_dir('mafnet', 'ave', variant, seed)}/metrics.json"
            for variant in MAFNET_SWEEP
            for seed in config["seeds"]
        ],
    output:
        figure_outputs("fig6_mafnet"),
    params:
        dataset="AVE",
    conda:
        ENV
    benchmark:
        "benchmarks/fig6_mafnet.tsv",
    log:
        "logs/figures/fig6_mafnet.log",
    script:
        "../../scripts/fig6_mafnet.py"


rule fig7_mafnet:
    input:
        unpack(lambda w: mafnet_inputs("ave")),
        model=f"{run_dir('mafnet', 'ave', MAFNET_FULL, config['seeds'][0])}/model.pt",
    output:
        figure_outputs("fig7_mafnet"),
    params:
        dataset="AVE",
        classes=lambda w: config["datasets"]["ave"]["classes"],
        val_fraction=MAFNET["val_fraction"],
        tsne=MAFNET["tsne"],
    conda:
        ENV
    benchmark:
        "benchmarks/fig7_mafnet.tsv",
    log:
        "logs/figures/fig7_mafnet.log",
    script:
        "../../scripts/fig7_mafnet.py"


# Two-phase Figure 4: confusion matrices of the audio, visual and audio-visual f4 systems.
rule fig4_twophase:
    input:
        [
            f"{run_dir('twophase', 'dcase2021', f'fusion_fn-f4_mod-{m}', seed)}/metrics.json"
            for m in ("a", "v", "av")
            for seed in config["seeds"]
        ],
    output:
        figure_outputs("fig4_twophase"),
    conda:
        ENV
    benchmark:
        "benchmarks/fig4_twophase.tsv",
    log:
        "logs/figures/fig4_twophase.log",
    script:
        "../../scripts/fig4_twophase.py"


# Lee et al.: a figure the paper lacks, per-class gain from sound, Table 5's classes marked.
AUDIOGEN_TABLE5 = load_metafile(metafile("audiogen")).tables["table5"]
AUDIOGEN_GAINS = {
    "rgb": AUDIOGEN_TABLE5.comparisons["(R+S) vs. R"].worse,
    "real": AUDIOGEN_TABLE5.comparisons["(R+S) vs. R"].better,
    "generated": AUDIOGEN_TABLE5.comparisons["(R+S(gen)) vs. R"].better,
}


rule fig3_audiogen:
    input:
        metafile=metafile("audiogen"),
        metrics=[
            f"{run_dir('audiogen', AUDIOGEN_TABLE5.dataset, run, seed)}/metrics.json"
            for run in AUDIOGEN_GAINS.values()
            for seed in config["seeds"]
        ],
    output:
        figure_outputs("fig3_audiogen"),
    params:
        **AUDIOGEN_GAINS,
    conda:
        ENV
    benchmark:
        "benchmarks/fig3_audiogen.tsv"
    log:
        "logs/figures/fig3_audiogen.log",
    script:
        "../../scripts/fig3_audiogen.py"
