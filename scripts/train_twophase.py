"""Train one two-phase run (see avrepro.train.twophase): a phase-I branch or a phase-II
fusion, as the variant says."""

from pathlib import Path

from avrepro.jobs import job, resolve_device
from avrepro.train import twophase
from avrepro.variants.twophase import fusion_branches, parse

inputs, w, params = snakemake.input, snakemake.wildcards, snakemake.params
out_dir = Path(snakemake.output.metrics).parent
device = resolve_device(params.device)
checkpointing = {"checkpoint_interval_s": snakemake.config["checkpoint_interval_s"]}

with job(snakemake.log[0]):
    if parse(w.variant).model == "fusion":
        metrics = twophase.run_fusion(
            variant=w.variant,
            manifest_path=Path(inputs.manifest),
            branch_dirs={b: Path(p).parent for b, p in
                         zip(fusion_branches(w.variant), inputs.branches, strict=True)},
            hparams=params.hparams, seed=int(w.seed), out_dir=out_dir, device=device,
            **checkpointing,
        )
    else:
        metrics = twophase.run_branch(
            variant=w.variant,
            manifest_path=Path(inputs.manifest),
            inputs=[Path(p) for p in inputs.data],
            media_indexes={"audio": [Path(p) / "index.csv" for p in inputs.audio_media],
                           "frames": [Path(p) for p in inputs.frames_media]},
            hparams=params.hparams, seed=int(w.seed), out_dir=out_dir,
            weights=Path(inputs.weights) if inputs.get("weights") else None, device=device,
            **checkpointing,
        )
    print({k: v for k, v in metrics.items() if k != "confusion"})
