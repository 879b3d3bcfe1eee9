"""Fine-tune one of Lee et al.'s TSN streams (tsn_mod-rgb, tsn_mod-flow), one seed after
another (see avrepro.train.tsn): each run folder also holds every clip's per-frame
features, frame_features.npz."""

from pathlib import Path

from avrepro.jobs import job, resolve_device
from avrepro.train import tsn

inputs, output, params, w = snakemake.input, snakemake.output, snakemake.params, snakemake.wildcards
device = resolve_device(params.device)

with job(snakemake.log[0]):
    for seed, metrics_path in zip(params.seeds, output.metrics, strict=True):
        metrics = tsn.run_tsn(
            variant=w.variant,
            manifest_path=Path(inputs.manifest),
            inputs=[Path(p) for p in inputs.data],
            frames_indexes=[Path(p) for p in inputs.frames_index],
            hparams=params.hparams, seed=seed, out_dir=Path(metrics_path).parent,
            weights=Path(inputs.weights) if inputs.get("weights") else None, device=device,
            checkpoint_interval_s=snakemake.config["checkpoint_interval_s"],
        )
        print({k: v for k, v in metrics.items() if k != "confusion"})
