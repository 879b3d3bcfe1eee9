"""A small, deterministic, resumable training loop for classifiers on frozen features.

Determinism: the model is built after `torch.manual_seed(seed)` by the caller, and
the batch order of epoch e comes from a generator seeded with (seed, e), so a run
that is killed and resumed from its checkpoint sees exactly the batches an
uninterrupted run would, and ends with the same weights.
"""

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm


@dataclass(frozen=True)
class Schedule:
    epochs: int
    batch_size: int
    lr: float
    l1: float = 0.0  # weight of the l1 penalty added to the loss
    weight_decay: float = 0.0  # Adam's l2 penalty on every weight
    # Stop once the best validation epoch is this many epochs old (None: run all epochs).
    patience: int | None = None


@dataclass
class Split:
    """Inputs (one per modality) and integer labels of one split.

    An input is a tensor, or anything that a batch's example indexes (a 1-d tensor) turn
    into that batch's tensor: a store that reads (decodes) only the batch's examples, so
    that a run's memory does not grow with its dataset. With `workers` > 0, batches are
    gathered by that many DataLoader worker processes, ahead of the training step (such
    an input must then be picklable); they come in the same order, with the same contents.
    """

    inputs: tuple
    labels: torch.Tensor
    workers: int = 0

    def __len__(self) -> int:
        return len(self.labels)

    def batches(self, batch_size: int, generator: torch.Generator | None = None):
        order = (
            torch.randperm(len(self), generator=generator)
            if generator is not None
            else torch.arange(len(self))
        )
        index = [order[start : start + batch_size] for start in range(0, len(self), batch_size)]
        if self.workers:
            # Each sampled "index" is a whole batch's, and batch_size None turns off the
            # loader's own batching: a worker gathers a batch as the loop below would. The
            # loader's own generator seeds its workers: by default it would draw from
            # torch's global one, and the run's dropout masks would depend on `workers`.
            gathered = DataLoader(_Gather(self.inputs), sampler=index, batch_size=None,
                                  num_workers=self.workers,
                                  generator=torch.Generator().manual_seed(0))
        else:
            gathered = map(_Gather(self.inputs).__getitem__, index)
        for idx, inputs in zip(index, gathered, strict=True):
            yield tuple(inputs), self.labels[idx]  # the loader hands a tuple on as a list


@dataclass
class _Gather:
    """The Dataset of a split's batches: gather[idx] is each input's batch at idx."""

    inputs: tuple

    def __getitem__(self, idx: torch.Tensor) -> tuple:
        return tuple(x[idx] for x in self.inputs)


# One training step's loss and logits: (model, inputs, labels, generator) -> (loss, logits).
# The generator is seeded per epoch like the batch order, so random choices made in a
# step (mixup weights, dropped updates) replay exactly when a run resumes.
TrainStep = Callable[
    [nn.Module, tuple[torch.Tensor, ...], torch.Tensor, torch.Generator],
    tuple[torch.Tensor, torch.Tensor],
]


def cross_entropy_step(model, inputs, labels, generator):
    logits = model(*inputs)
    return nn.functional.cross_entropy(logits, labels), logits


# One validation pass: (model, split, batch_size, device) -> (loss, accuracy, probs), as
# `evaluate`. A model without a classifier (a feature generator) gives accuracy nan.
Validate = Callable[[nn.Module, Split, int, torch.device], tuple[float, float, torch.Tensor | None]]
# What selects the best epoch: the highest validation accuracy, or the lowest loss.
SELECT = ("val_acc", "val_loss")
# The optimiser of a recipe other than Adam: model -> optimizer (its groups' lr at epoch 0).
OptimizerFactory = Callable[[nn.Module], torch.optim.Optimizer]


@dataclass
class FitResult:
    history: list[dict]
    best_epoch: int
    best_state: dict


def _save_atomic(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, batch_size: int, device: torch.device):
    """Mean cross-entropy, accuracy and class probabilities of `model` on `split`."""
    model.eval()
    probs, loss_sum = [], 0.0
    for inputs, labels in split.batches(batch_size):
        logits = model(*(x.to(device) for x in inputs))
        loss_sum += nn.functional.cross_entropy(logits, labels.to(device), reduction="sum").item()
        probs.append(torch.softmax(logits, dim=1).cpu())
    probs = torch.cat(probs) if probs else torch.empty(0)
    correct = (probs.argmax(1) == split.labels).sum().item() if len(split) else 0
    n = max(len(split), 1)
    return loss_sum / n, correct / n, probs


def fit(
    model: nn.Module,
    train: Split,
    val: Split,
    test: Split,
    schedule: Schedule,
    seed: int,
    checkpoint: Path,
    device: torch.device,
    fingerprint: str,
    regulariser: Callable[[nn.Module], torch.Tensor] | None = None,
    train_step: TrainStep = cross_entropy_step,
    checkpoint_interval_s: float = 300.0,
    record_test: bool = False,
    validate: Validate | None = None,
    select: str = "val_acc",
    optimizer: OptimizerFactory | None = None,
    lr_factor: Callable[[int], float] | None = None,
    max_grad_norm: float | None = None,
) -> FitResult:
    """Train with Adam and `train_step`'s loss (+ `schedule.l1` * regulariser); keep the
    best validation epoch, stopping early after `schedule.patience` epochs without a
    better one.

    `validate` scores the validation split (default: `evaluate`'s cross-entropy and
    accuracy) and `select` says which of its numbers picks the best epoch: "val_acc"
    (highest) or "val_loss" (lowest), for models whose accuracy means nothing, such as
    Lee et al.'s sound-feature generators trained on reconstruction alone. A train_step
    may return logits None (no classifier): the history's train_acc is then nan.

    A recipe of its own (TSN's SGD, train.tsn) passes `optimizer`, which replaces Adam
    (schedule.lr and weight_decay then go unused); `lr_factor(epoch)`, which scales every
    parameter group's initial lr during that epoch (a step schedule); and
    `max_grad_norm`, to which the gradients' total l2 norm is clipped before each step.

    `record_test` also evaluates `test` after every epoch, into the history's test_acc:
    for convergence figures only (MAiVAR's Fig. 7); model selection never sees it. Off by
    default, since it costs a pass over the test set every epoch.

    The resumable state (model, optimiser, history, best epoch) goes to `checkpoint` once
    `checkpoint_interval_s` seconds have passed since the last write (0: after every
    epoch) and after the last epoch. By wall clock rather than by epoch: a run of seconds
    pays for one write, a run of hours loses minutes at most.

    Resumes from `checkpoint` when it holds an unfinished run with the same `fingerprint`
    (a digest of everything that defines the run). A finished or foreign checkpoint is
    a rerun Snakemake asked for, with new code, inputs or parameters: start afresh.
    """
    if select not in SELECT:
        raise ValueError(f"select must be one of {SELECT}, got {select!r}")
    validate = validate or evaluate
    model.to(device)
    optimizer = optimizer(model) if optimizer is not None else torch.optim.Adam(
        model.parameters(), lr=schedule.lr, weight_decay=schedule.weight_decay)
    if lr_factor is not None:
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
    history: list[dict] = []
    best = {"epoch": -1, "score": -math.inf, "state": None}
    start = 0
    state = None
    if checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
    if state and state["fingerprint"] == fingerprint and not state.get("finished"):
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        history, best, start = state["history"], state["best"], state["epoch"] + 1
        print(f"resuming from {checkpoint} after epoch {state['epoch']}")

    saved_at = time.monotonic()
    progress = tqdm(range(start, schedule.epochs), desc="epochs", initial=start,
                    total=schedule.epochs, mininterval=5)
    for epoch in progress:
        model.train()
        generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
        if lr_factor is not None:  # from the groups' initial lr, so a resumed run agrees
            for group in optimizer.param_groups:
                group["lr"] = group["initial_lr"] * lr_factor(epoch)
        loss_sum, correct = 0.0, 0
        for inputs, labels in train.batches(schedule.batch_size, generator):
            inputs, labels = tuple(x.to(device) for x in inputs), labels.to(device)
            loss, logits = train_step(model, inputs, labels, generator)
            if regulariser is not None and schedule.l1:
                loss = loss + schedule.l1 * regulariser(model)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if max_grad_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
            optimizer.step()
            loss_sum += loss.item() * len(labels)
            if logits is None:
                correct = math.nan
            else:
                correct += (logits.argmax(1) == labels).sum().item()

        val_loss, val_acc, _ = validate(model, val, schedule.batch_size, device)
        history.append({
            "epoch": epoch,
            "train_loss": loss_sum / len(train),
            "train_acc": correct / len(train),
            "val_loss": val_loss,
            "val_acc": val_acc,
        })
        if record_test:
            history[-1]["test_acc"] = evaluate(model, test, schedule.batch_size, device)[1]
        score = val_acc if select == "val_acc" else -val_loss
        if score > best["score"]:
            best = {"epoch": epoch, "score": score,
                    "state": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}}
        progress.set_postfix({select: f"{history[-1][select]:.3f}"})
        stale = schedule.patience is not None and epoch - best["epoch"] >= schedule.patience
        last = stale or epoch == schedule.epochs - 1
        if last or time.monotonic() - saved_at >= checkpoint_interval_s:
            _save_atomic({"fingerprint": fingerprint, "epoch": epoch,
                          "model": model.state_dict(),
                          "optimizer": optimizer.state_dict(), "history": history,
                          "best": best, "finished": last}, checkpoint)
            saved_at = time.monotonic()
        if stale:
            print(f"stopping early: no better {select} since epoch {best['epoch']}")
            break
    return FitResult(history=history, best_epoch=best["epoch"], best_state=best["state"])
