"""The smoke tier's AST: train a tiny AST on the synthetic AudioSet set (a stand-in for the
released AudioSet checkpoint, see avrepro.train.ast_smoke); write its weights in our layout
(what ast_features reads) and its training metrics (mAP on held-out synthetic clips)."""

import json
from pathlib import Path

import torch

from avrepro.data.audioset import read_audioset_labels
from avrepro.jobs import job, resolve_device
from avrepro.models.ast import AST, ASTConfig
from avrepro.train import ast_smoke

inputs, output, params = snakemake.input, snakemake.output, snakemake.params

with job(snakemake.log[0]):
    names = read_audioset_labels(inputs.labels)
    clips = ast_smoke.read_labelled_clips(Path(params.audioset), names)
    train_clips, held_out = ast_smoke.split_clips(clips, params.held_out, params.seed)
    cfg = ASTConfig(**params.model)
    device = resolve_device(params.device)
    state, losses = ast_smoke.train(
        train_clips, cfg, ast_smoke.SmokeSchedule(**params.schedule), params.seed, device
    )
    model = AST(cfg)
    model.load_state_dict(state)
    scores = ast_smoke.evaluate(model, held_out, device)
    metrics = {
        "n_train": len(train_clips),
        "n_held_out": len(held_out),
        "epoch_loss": losses,
        "held_out_mAP": scores["mAP"],
        "held_out_top1_in_labels": scores["top1_in_labels"],
        "held_out_ap": {names[c]: ap for c, ap in scores["ap"].items()},
    }
    Path(output.weights).parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, output.weights)
    Path(output.metrics).write_text(json.dumps(metrics, indent=2) + "\n")
    print({k: v for k, v in metrics.items() if k != "epoch_loss"})
