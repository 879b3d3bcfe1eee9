"""The smoke tier's stand-in for AST's AudioSet checkpoint: a tiny AST trained on a
synthetic AudioSet-like set (16-kHz WAVs + labels.csv, written by
avrepro.data.synthetic.write_audioset).

The smoke tier cannot download the released weights, and a randomly initialised AST would
make IMD's relevance target (AST's top AudioSet labels against the SAVLD dictionary) pure
noise; trained, its top labels name the synthetic sounds a clip holds, as the real AST's
name real sounds. This is not AST's recipe (ImageNet DeiT start, SpecAugment, mixup, Adam
with warm-up and a step decay over 5 epochs of 2M clips): it only has to produce a working
AudioSet tagger quickly, so plain Adam on the multi-label BCE that AST trains with (its
AudioSet loss), no augmentation, from timm's random init (head bias aside, see `train`).
"""

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import average_precision_score
from torch import nn

from avrepro.features.ast_features import SAMPLE_RATE, ast_input
from avrepro.media.audio import load_wav
from avrepro.models.ast import AST, ASTConfig

Clip = tuple[Path, frozenset[int]]  # a WAV and the indices of its AudioSet labels


@dataclass(frozen=True)
class SmokeSchedule:
    epochs: int = 40
    batch_size: int = 8
    lr: float = 1e-3


def read_labelled_clips(root: Path, label_names: Sequence[str]) -> list[Clip]:
    """The clips of a synthetic AudioSet folder: root/labels.csv has columns file,labels
    (labels: ";"-joined AudioSet display names, the spelling of class_labels_indices.csv,
    whose names in index order are `label_names`)."""
    index_of = {name: i for i, name in enumerate(label_names)}
    clips = []
    with open(Path(root) / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            names = [name for name in row["labels"].split(";") if name]
            unknown = [name for name in names if name not in index_of]
            if unknown or not names:
                raise ValueError(f"{row['file']}: labels {unknown or names} are not AudioSet's")
            clips.append((Path(root) / row["file"], frozenset(index_of[n] for n in names)))
    return clips


def split_clips(clips: Sequence[Clip], held_out: float, seed: int):
    """(train, held_out) clips: a seeded random `held_out` fraction (at least one) held out."""
    order = np.random.default_rng(seed).permutation(len(clips))
    n_held = max(1, round(held_out * len(clips)))
    if n_held >= len(clips):
        raise ValueError(f"holding out {n_held} of {len(clips)} clips leaves none to train on")
    return [clips[i] for i in order[n_held:]], [clips[i] for i in order[:n_held]]


def clip_tensors(clips: Sequence[Clip], cfg: ASTConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """AST inputs (N, frames, n_mels) and multi-hot targets (N, num_classes) of `clips`."""
    inputs, targets = [], torch.zeros(len(clips), cfg.num_classes)
    for i, (path, labels) in enumerate(clips):
        samples, rate = load_wav(path)
        if rate != SAMPLE_RATE:
            raise ValueError(f"{path}: AST needs {SAMPLE_RATE} Hz audio, the file has {rate}")
        inputs.append(ast_input(samples.mean(axis=0), cfg.frames, cfg.n_mels))
        targets[i, sorted(labels)] = 1.0
    return torch.stack(inputs), targets


def train(
    clips: Sequence[Clip],
    model_cfg: ASTConfig,
    schedule: SmokeSchedule,
    seed: int,
    device: str = "cpu",
) -> tuple[dict[str, torch.Tensor], list[float]]:
    """Train a fresh AST on `clips`: (state dict in our layout, on the CPU; mean training
    loss of each epoch). Deterministic for a seed on one device."""
    inputs, targets = clip_tensors(clips, model_cfg)  # tiny sets: all in memory
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AST(model_cfg)
    # The head's bias starts at the logit of a 1/num_classes prior (Lin et al. 2017's
    # prior init): from zero, the first hundred steps only push 527 scores down, the
    # embedding stays input-blind meanwhile, and a tiny set runs out of steps.
    nn.init.constant_(model.mlp_head[1].bias, -math.log(model_cfg.num_classes - 1))
    model.to(device)
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=schedule.lr)
    losses = []
    model.train()
    for _ in range(schedule.epochs):
        total = 0.0
        for batch in torch.randperm(len(inputs), generator=generator).split(schedule.batch_size):
            _, logits = model(inputs[batch].to(device))
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, targets[batch].to(device)
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        losses.append(total / len(inputs))
    forget_unseen(model, targets)
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}, losses


def forget_unseen(model: AST, targets: torch.Tensor) -> None:
    """Set the head of every label the set has no example of to the set's label frequency,
    the same score for every clip: "never heard", neither present nor known absent.

    Trained as negatives everywhere, those labels would score below the set's own absent
    labels, and AST's top Y_a labels (IMD's Y_a = 20) would be the set's whole label list
    whatever the clip; at the base rate they rank below a clip's labels and above those
    the AST knows it lacks, as the real AST's unrelated labels do."""
    seen = targets.any(dim=0)
    rate = float(targets[:, seen].mean())
    head = model.mlp_head[1]
    with torch.no_grad():
        head.weight[~seen.to(head.weight.device)] = 0
        head.bias[~seen.to(head.bias.device)] = math.log(rate / (1 - rate))


def predict(model: AST, inputs: torch.Tensor, batch_size: int = 64, device: str = "cpu"):
    """Sigmoid scores (N, num_classes) of AST inputs (N, frames, n_mels)."""
    model = model.to(device).eval()
    with torch.inference_mode():
        scores = [torch.sigmoid(model(x.to(device))[1]).cpu() for x in inputs.split(batch_size)]
    return torch.cat(scores).numpy()


def evaluate(model: AST, clips: Sequence[Clip], device: str = "cpu") -> dict:
    """mAP over the labels that occur in `clips` (AST's AudioSet metric, the mean of the
    per-class average precisions; classes without a positive have no AP), each label's
    AP, and how often the top-scored label is one of the clip's labels."""
    inputs, targets = clip_tensors(clips, model.cfg)
    scores = predict(model, inputs, device=device)
    truth = targets.numpy().astype(bool)
    present = np.flatnonzero(truth.any(axis=0))
    ap = {int(c): float(average_precision_score(truth[:, c], scores[:, c])) for c in present}
    top1 = truth[np.arange(len(truth)), scores.argmax(axis=1)].mean()
    return {"mAP": float(np.mean(list(ap.values()))), "ap": ap, "top1_in_labels": float(top1)}
