"""Run a declared method (avrepro.methods), one seed after another: the context its
declaration asks for, then its `run`."""

import importlib
from pathlib import Path

from avrepro.jobs import job, resolve_device
from avrepro.methods import RunContext

inputs, output, params, w = snakemake.input, snakemake.output, snakemake.params, snakemake.wildcards
method = importlib.import_module(params.method).METHOD
options = method.options(w.variant)
reads = method.reads(options, snakemake.config)
stores = {store: [Path(p) for p in inputs.stores if Path(p).parent.name == store]
          for store in reads.stores}

with job(snakemake.log[0]):
    for i, (seed, metrics_path) in enumerate(zip(params.seeds, output.metrics, strict=True)):
        finished = inputs.runs[i * len(reads.runs) : (i + 1) * len(reads.runs)]
        context = RunContext(
            variant=w.variant, options=options, dataset=w.dataset,
            manifest=Path(inputs.manifest),
            runs={run: Path(p).parent for run, p in zip(reads.runs, finished, strict=True)},
            stores=stores, seed=seed, out_dir=Path(metrics_path).parent,
            schedule=params.schedule, device=resolve_device(params.device),
            checkpoint_interval_s=snakemake.config["checkpoint_interval_s"],
        )
        print({k: v for k, v in method.run(context).items() if k != "confusion"})
