"""Train MAiVAR runs, one seed after another (see avrepro.train.maivar)."""

from pathlib import Path

from avrepro.jobs import job, resolve_device
from avrepro.train import maivar

inputs, output, params, w = snakemake.input, snakemake.output, snakemake.params, snakemake.wildcards

with job(snakemake.log[0]):
    video_mlps = inputs.video_mlp if "video_mlp" in inputs.keys() else [None] * len(params.seeds)
    for seed, metrics_path, video_mlp in zip(params.seeds, output.metrics, video_mlps, strict=True):
        metrics = maivar.run(
            variant=w.variant,
            manifest_path=Path(inputs.manifest),
            shards={m: [Path(p) for p in inputs[m]] for m in ("audio", "video")
                    if m in inputs.keys()},
            media_indexes={
                "audio": [Path(p) / "index.csv" for p in inputs.audio_media],
                "frames": [Path(p) for p in inputs.frames_media],
            },
            n_classes=params.n_classes,
            hparams=params.hparams,
            seed=seed,
            out_dir=Path(metrics_path).parent,
            video_mlp=Path(video_mlp) if video_mlp else None,
            device=resolve_device(params.device),
            checkpoint_interval_s=snakemake.config["checkpoint_interval_s"],
        )
        print(metrics)
