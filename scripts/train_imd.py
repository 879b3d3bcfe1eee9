"""Train IMD runs (avrepro.train.imd), one seed after another, each on every GPU the job
was given: torchrun starts one process per GPU (distributed.launch) from the run's
spec.json, which the run folder keeps (`python -m avrepro.train.imd spec.json` reruns it
by hand). On the CPU, or with one GPU, the run trains in this process."""

import json
from pathlib import Path

import torch

from avrepro.jobs import job, resolve_device
from avrepro.train import distributed, imd

inputs, output, params, w = snakemake.input, snakemake.output, snakemake.params, snakemake.wildcards
device = resolve_device(params.device)
nproc = torch.cuda.device_count() if device == "cuda" else 1


def files(key: str) -> list[str]:
    return [str(p) for p in inputs.get(key, [])]


def one(key: str) -> str | None:
    return str(inputs[key]) if inputs.get(key) else None


with job(snakemake.log[0]):
    for i, (seed, metrics_path) in enumerate(zip(params.seeds, output.metrics, strict=True)):
        out_dir = Path(metrics_path).parent
        # init-kinetics400: the Kinetics run of the same seed; else the ViT weights (if any).
        weights = files("init")[i] if inputs.get("init") else one("weights")
        spec = {
            "variant": w.variant, "manifest_path": str(inputs.manifest),
            "frames_index": files("frames_index"), "frames": files("rgb"),
            "flow": files("flow"), "ast": files("audio"), "dictionary": one("dictionary"),
            "audio_labels": one("audio_labels"), "plan": params.plan, "weights": weights,
            "hparams": params.hparams, "seed": seed, "out_dir": str(out_dir),
            "device": device, "checkpoint_interval_s": snakemake.config["checkpoint_interval_s"],
        }
        out_dir.mkdir(parents=True, exist_ok=True)
        spec_path = out_dir / "spec.json"
        spec_path.write_text(json.dumps(spec, indent=2))
        print(f"{w.variant} seed {seed}: {nproc} process(es) on {device}")
        if nproc > 1:
            distributed.launch(spec_path, nproc)
            metrics = json.loads(Path(metrics_path).read_text())
        else:
            metrics = imd.run_imd(**spec)
        print({k: v for k, v in metrics.items() if k not in ("confusion", "per_class")})
