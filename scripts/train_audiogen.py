"""Train Lee et al.'s sound runs, one seed after another (avrepro.train.audiogen): the
generator, if the variant has one, then the SVMs."""

from pathlib import Path

from avrepro.jobs import job, resolve_device
from avrepro.train import audiogen
from avrepro.variants.audiogen import STREAMS, parse

inputs, output, params, w = snakemake.input, snakemake.output, snakemake.params, snakemake.wildcards
variant = parse(w.variant)

with job(snakemake.log[0]):
    for i, (seed, metrics_path) in enumerate(zip(params.seeds, output.metrics, strict=True)):
        out_dir = Path(metrics_path).parent
        visual = None
        if variant.generator:  # each seed's RGB then flow frame features
            files = inputs.visual[i * len(STREAMS) : (i + 1) * len(STREAMS)]
            visual = {s: Path(p) for s, p in zip(STREAMS, files, strict=True)}
        metrics = audiogen.run_sound(
            variant=w.variant,
            manifest_path=Path(inputs.manifest),
            frames_indexes=[Path(p) for p in inputs.frames_index],
            audio_indexes=[Path(p) / "index.csv" for p in inputs.audio_media],
            sound_store=[Path(p) for p in inputs.sound],
            visual=visual, hparams=params.hparams, seed=seed, out_dir=out_dir,
            device=resolve_device(params.device),
            checkpoint_interval_s=snakemake.config["checkpoint_interval_s"],
        )
        print({k: v for k, v in metrics.items() if k != "confusion"})
