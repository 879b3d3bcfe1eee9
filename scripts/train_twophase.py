"""Train two-phase runs, one seed after another (see avrepro.train.twophase): phase-I
branches or a phase-II fusion, as the variant says."""

from pathlib import Path

from avrepro.jobs import job, resolve_device
from avrepro.train import twophase
from avrepro.variants.twophase import fusion_branches, parse

inputs, output, params, w = snakemake.input, snakemake.output, snakemake.params, snakemake.wildcards
device = resolve_device(params.device)
checkpointing = {"checkpoint_interval_s": snakemake.config["checkpoint_interval_s"]}

with job(snakemake.log[0]):
    for i, (seed, metrics_path) in enumerate(zip(params.seeds, output.metrics, strict=True)):
        out_dir = Path(metrics_path).parent
        if parse(w.variant).model == "fusion":
            branches = fusion_branches(w.variant)  # each seed's embedding files, in this order
            embeddings = inputs.branches[i * len(branches) : (i + 1) * len(branches)]
            metrics = twophase.run_fusion(
                variant=w.variant,
                manifest_path=Path(inputs.manifest),
                branch_dirs={b: Path(p).parent for b, p in zip(branches, embeddings, strict=True)},
                hparams=params.hparams, seed=seed, out_dir=out_dir, device=device,
                **checkpointing,
            )
        else:
            metrics = twophase.run_branch(
                variant=w.variant,
                manifest_path=Path(inputs.manifest),
                inputs=[Path(p) for p in inputs.data],
                media_indexes={"audio": [Path(p) / "index.csv" for p in inputs.audio_media],
                               "frames": [Path(p) for p in inputs.frames_media]},
                hparams=params.hparams, seed=seed, out_dir=out_dir,
                weights=Path(inputs.weights) if inputs.get("weights") else None, device=device,
                workers=snakemake.threads - 1,  # frame decoders beside the training process
                **checkpointing,
            )
        print({k: v for k, v in metrics.items() if k != "confusion"})
