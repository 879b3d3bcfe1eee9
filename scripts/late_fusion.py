"""Late fusions of Lee et al.'s runs, one seed after another (avrepro.train.late_fusion)."""

from pathlib import Path

from avrepro.jobs import job
from avrepro.train.late_fusion import run_late
from avrepro.variants.audiogen import runs_read

inputs, output, params, w = snakemake.input, snakemake.output, snakemake.params, snakemake.wildcards
runs = runs_read(w.variant)  # each seed's predictions files, in this order

with job(snakemake.log[0]):
    for i, (seed, metrics_path) in enumerate(zip(params.seeds, output.metrics, strict=True)):
        files = inputs.runs[i * len(runs) : (i + 1) * len(runs)]
        metrics = run_late(
            variant=w.variant,
            manifest_path=Path(inputs.manifest),
            run_dirs={run: Path(p).parent for run, p in zip(runs, files, strict=True)},
            tsn_weights=params.tsn_weights, seed=seed, out_dir=Path(metrics_path).parent,
        )
        print({k: v for k, v in metrics.items() if k != "confusion"})
