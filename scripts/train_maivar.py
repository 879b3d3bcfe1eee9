"""Train one MAiVAR run (see avrepro.train.maivar)."""

from pathlib import Path

from avrepro.jobs import job, resolve_device
from avrepro.train import maivar

inputs, w = snakemake.input, snakemake.wildcards

with job(snakemake.log[0]):
    metrics = maivar.run(
        variant=w.variant,
        manifest_path=Path(inputs.manifest),
        shards={m: [Path(p) for p in inputs[m]] for m in ("audio", "video") if m in inputs.keys()},
        media_indexes={
            "audio": [Path(p) / "index.csv" for p in inputs.audio_media],
            "frames": [Path(p) for p in inputs.frames_media],
        },
        n_classes=snakemake.params.n_classes,
        hparams=snakemake.params.hparams,
        seed=int(w.seed),
        out_dir=Path(snakemake.output.metrics).parent,
        video_mlp=Path(inputs.video_mlp) if "video_mlp" in inputs.keys() else None,
        device=resolve_device(snakemake.params.device),
        checkpoint_interval_s=snakemake.config["checkpoint_interval_s"],
    )
    print(metrics)
