"""Train MAFnet-paper runs, one seed after another (see avrepro.train.mafnet)."""

from pathlib import Path

from avrepro.jobs import job, resolve_device
from avrepro.train import mafnet

inputs, output, params, w = snakemake.input, snakemake.output, snakemake.params, snakemake.wildcards

with job(snakemake.log[0]):
    splits = mafnet.load_clips(
        Path(inputs.manifest), inputs.audio, inputs.visual,
        {"audio": [Path(p) / "index.csv" for p in inputs.audio_media],
         "frames": list(inputs.frames_media)},
        params.val_fraction,
    )
    for seed, metrics_path in zip(params.seeds, output.metrics, strict=True):
        metrics = mafnet.run(
            variant=w.variant,
            dataset=w.dataset,
            splits=splits,
            n_classes=params.n_classes,
            hparams=params.hparams,
            seed=seed,
            out_dir=Path(metrics_path).parent,
            device=resolve_device(params.device),
            checkpoint_interval_s=snakemake.config["checkpoint_interval_s"],
            sources=[Path(p) for p in [*inputs.audio, *inputs.visual]],
        )
        print(metrics)
