"""Train one MAFnet-paper run (see avrepro.train.mafnet)."""

from pathlib import Path

from avrepro.jobs import job, resolve_device
from avrepro.train import mafnet

inputs, w, params = snakemake.input, snakemake.wildcards, snakemake.params

with job(snakemake.log[0]):
    splits = mafnet.load_clips(
        Path(inputs.manifest), inputs.audio, inputs.visual,
        {"audio": [Path(p) / "index.csv" for p in inputs.audio_media],
         "frames": list(inputs.frames_media)},
        params.val_fraction,
    )
    metrics = mafnet.run(
        variant=w.variant,
        dataset=w.dataset,
        splits=splits,
        n_classes=params.n_classes,
        hparams=params.hparams,
        seed=int(w.seed),
        out_dir=Path(snakemake.output.metrics).parent,
        device=resolve_device(params.device),
        checkpoint_interval_s=snakemake.config["checkpoint_interval_s"],
        sources=[Path(p) for p in [*inputs.audio, *inputs.visual]],
    )
    print(metrics)
