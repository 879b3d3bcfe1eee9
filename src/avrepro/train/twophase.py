"""Train the two-phase system's runs (Pham et al., §II-III) and write their run folders.

Variant names: avrepro.variants.twophase. Every run trains with mixup and the
KL-divergence loss with l2 regularisation (Eq. 4) under Adam (§III-A). A branch run also
writes its clips' embeddings (`emb-fc1024.npz`, `emb-fc10.npz`, feature-store shards),
which the fusion runs read.
"""

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import StratifiedGroupKFold
from torch import nn

from avrepro.data.manifest import read_manifest
from avrepro.features.store import read_store, write_shard
from avrepro.media.frame_store import FrameStore
from avrepro.models.twophase import (
    AUDIO_WIDTHS,
    Branch,
    Fusion,
    audio_branch,
    load_visual_weights,
    visual_branch,
)
from avrepro.train.clips import assemble, class_names, decodable
from avrepro.train.loop import Schedule, Split, TrainStep, fit
from avrepro.train.metrics import classification_metrics
from avrepro.train.run_folder import fingerprint, predictions, write_run
from avrepro.variants.twophase import (
    BACKBONES,
    EMBEDDING_FILES,
    FUSIONS,
    SPECTROGRAMS,
    embedding_file,
    fusion_branches,
    parse,
)

PAPER = "twophase"
# Mixup's Beta(alpha, alpha). The paper cites mixup [14] without a value; 0.4 is the
# authors' practice, after the DCASE ASC recipe their networks build on (McDonnell &
# Gao's MixupGenerator, alpha = 0.4, one weight per example).
MIXUP_ALPHA = 0.4


def build_model(variant: str, n_classes: int, audio_widths=AUDIO_WIDTHS) -> nn.Module:
    """The randomly initialised network of a variant (seed torch first)."""
    v = parse(variant)
    if v.model == "aud":
        return audio_branch(tuple(audio_widths), n_classes)
    if v.model == "vis":
        return visual_branch(v.backbone, n_classes)
    dim = 1024 if FUSIONS[v.fusion][1] == "fc1024" else n_classes
    n_audio = len(SPECTROGRAMS) if "a" in v.modality else 0
    n_visual = len(BACKBONES) if "v" in v.modality else 0
    return Fusion(v.fusion, n_audio, n_visual, dim, n_classes)


# ---------------------------------------------------------------------------------------
# Mixup and the KL-divergence loss (§III-A, Eq. 4).


def mixup_draw(n: int, alpha: float, generator: torch.Generator):
    """Per-example weights lambda ~ Beta(alpha, alpha) (n,) and partners (a permutation).

    Both come from `generator` (the loop seeds it per epoch), so a resumed run replays
    them: torch has no seeded Beta sampler, so one draw from the generator seeds numpy's.
    """
    seed = int(torch.randint(2**62, (1,), generator=generator))
    lam = np.random.default_rng(seed).beta(alpha, alpha, size=n)
    return torch.from_numpy(lam).float(), torch.randperm(n, generator=generator)


def mix(x: torch.Tensor, lam: torch.Tensor, partner: torch.Tensor) -> torch.Tensor:
    """lam * x + (1 - lam) * x[partner], in float32 (frames are uint8, spectrograms float16)."""
    x = x.float()
    lam = lam.to(x.device).view(-1, *([1] * (x.dim() - 1)))
    return lam * x + (1 - lam) * x[partner.to(x.device)]


def kl_divergence(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 4's data term, sum_c y log(y / y_hat), averaged over the batch (0 log 0 = 0)."""
    return nn.functional.kl_div(torch.log_softmax(logits, dim=1), target, reduction="batchmean")


def mixup_kl_step(alpha: float, n_classes: int) -> TrainStep:
    """A loop.fit train_step: mix every input and the one-hot targets with the same
    weights and partners, score with the KL divergence (the mixed targets are no longer
    one-hot, hence KL, §III-A). Eq. 4's l2 term is Schedule.weight_decay, see `run_*`."""

    def step(model, inputs, labels, generator):
        lam, partner = mixup_draw(len(labels), alpha, generator)
        mixed = tuple(mix(x, lam, partner) for x in inputs)
        onehot = nn.functional.one_hot(labels, n_classes).float()
        target = mix(onehot, lam, partner)
        logits = model(*mixed)
        return kl_divergence(logits, target), logits

    return step


# ---------------------------------------------------------------------------------------
# Clips, splits, outputs and metrics.


def recording_location(clip_id: str) -> str:
    """`{scene}-{city}-{location}` of a DCASE clip id `{scene}-{city}-{location}-{segment}`."""
    parts = clip_id.split("-")
    if len(parts) != 4:
        raise ValueError(f"clip id {clip_id!r} is not scene-city-location-segment")
    return "-".join(parts[:3])


def location_holdout(rows: pd.DataFrame, fraction: float) -> np.ndarray:
    """Boolean mask of the validation clips: whole recording locations of the training split.

    The paper trains on fold1 train and reports on fold1 evaluate, silent on model
    selection. We select the epoch on held-out training clips, as the MAiVAR runs do, but
    hold out whole locations: a location's 10 s segments are cut from one recording, so
    segments of it on both sides would make validation near-duplicate. DCASE's own split
    keeps locations apart in the same way. One of round(1 / fraction) location folds,
    stratified by scene and fixed (seed 0): the same clips for every run and seed.
    """
    train_idx = np.flatnonzero(rows.split == "train")
    groups = rows.clip_id.iloc[train_idx].map(recording_location).to_numpy()
    n_splits = round(1 / fraction)
    if len(set(groups)) < n_splits:
        raise ValueError(f"val_fraction {fraction} needs at least {n_splits} recording "
                         f"locations in the training split, found {len(set(groups))}")
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=0)
    _, val = next(folds.split(train_idx, rows.label_index.iloc[train_idx], groups))
    mask = np.zeros(len(rows), dtype=bool)
    mask[train_idx[val]] = True
    return mask


def flatten_clips(clips: np.ndarray, n_valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The real items of (N, T, ...) clips as (M, ...), and the clip each came from (M,).

    A view when every clip is complete (always for spectrograms, T = 1), else a copy.
    """
    if (n_valid == clips.shape[1]).all():
        return clips.reshape(-1, *clips.shape[2:]), np.repeat(np.arange(len(clips)), clips.shape[1])
    clip, t = real_items(n_valid, clips.shape[1])
    return clips[clip, t], clip


def real_items(n_valid: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """(clip, item) of every real item of clips of `length` items, clip by clip."""
    return np.nonzero(np.arange(length)[None, :] < n_valid[:, None])


class StoredFrames:
    """Every real frame of a frame store's clips, one example each, in flatten_clips's
    order (clip by clip, frame by frame): indexing with examples' indexes (B,) decodes
    just those frames, uint8 (B, H, W, 3). A loop.Split input."""

    def __init__(self, store: FrameStore) -> None:
        self.store = store
        self.clip, self.item = real_items(store.n_valid, store.clip_shape[0])

    def __getitem__(self, index: torch.Tensor) -> torch.Tensor:
        frames = np.empty((len(index), *self.store.frame_shape), np.uint8)
        for k, j in enumerate(np.asarray(index)):
            frames[k] = self.store.read(self.clip[j], [self.item[j]])[0]
        return torch.from_numpy(frames)


def frame_split(clips: np.ndarray, n_valid: np.ndarray, labels: np.ndarray) -> Split:
    """Every real item of the clips as one example with its clip's label: one example per
    spectrogram (T = 1)."""
    items, owner = flatten_clips(clips, n_valid)
    return Split(inputs=(torch.from_numpy(items),), labels=torch.from_numpy(labels[owner]).long())


def stored_frame_split(store: FrameStore, labels: np.ndarray, workers: int = 0) -> Split:
    """Every real frame of the store's clips as one example with its clip's label (§II-A:
    the visual models are trained on the frames as images), decoded a batch at a time
    (by `workers` DataLoader processes, if any): frame_split's examples, in its order."""
    frames = StoredFrames(store)
    return Split(inputs=(frames,), labels=torch.from_numpy(labels[frames.clip]).long(),
                 workers=workers)


@torch.no_grad()
def clip_outputs(model: Branch, read: Callable[[int, int], np.ndarray], n_valid: np.ndarray,
                 length: int, batch_size: int, device: torch.device) -> dict[str, np.ndarray]:
    """Per clip: class probabilities and the FC(1024) and FC(10) embeddings.

    read(start, stop) gives clips start to stop, (stop - start, length, ...), with
    n_valid[i] real items in clip i: `length` frames for a visual branch (outputs are
    averaged over a clip's frames), one spectrogram for an audio branch. Clips are read
    a forward pass at a time.
    """
    model.to(device).eval()
    # Filled in place: small per-pass results kept between a pass's large temporaries
    # would pin the heap (glibc), growing the job by megabytes a pass.
    sums: dict[str, np.ndarray] = {}
    step = max(1, batch_size // length)  # clips per forward pass
    for start in range(0, len(n_valid), step):
        stop = min(start + step, len(n_valid))
        items, clip = flatten_clips(read(start, stop), n_valid[start:stop])
        h, logits = model.embeddings(torch.from_numpy(items).to(device))
        owner = torch.from_numpy(clip).to(device)
        for key, value in (("probs", torch.softmax(logits, 1)), ("fc1024", h), ("fc10", logits)):
            if key not in sums:
                sums[key] = np.zeros((len(n_valid), value.shape[1]), np.float32)
            total = torch.zeros(stop - start, value.shape[1], device=device)
            sums[key][start:stop] = total.index_add_(0, owner, value).cpu().numpy()
    return {key: total / n_valid[:, None].astype(np.float32) for key, total in sums.items()}


def _write_run(out_dir: Path, variant: str, seed: int, rows: pd.DataFrame, masks: dict,
               probs: np.ndarray, result, model_record: dict, run_config: dict,
               classes: list[str], n_listed: int) -> dict:
    """model.pt, predictions.parquet, history.csv, config.yaml and, last, metrics.json."""
    test = masks["test"]
    tested = predictions(rows.clip_id.to_numpy()[test], rows.label_index.to_numpy()[test],
                         probs[test])
    metrics = {
        "paper": PAPER, "variant": variant, "seed": seed,
        **classification_metrics(tested.label_index.to_numpy(), probs[test], classes),
        "best_epoch": result.best_epoch,
        "val_accuracy": 100 * result.history[result.best_epoch]["val_acc"],
        "clips": {"train": int(masks["train"].sum()), "val": int(masks["val"].sum()),
                  "test": int(test.sum()), "listed": n_listed,
                  "unusable": int(n_listed - len(rows))},
    }
    model = {**model_record, "variant": variant, "state": result.best_state,
             "best_epoch": result.best_epoch}
    return write_run(out_dir, model, tested, result.history, run_config, metrics)


def _masks(rows: pd.DataFrame, val_fraction: float) -> dict[str, np.ndarray]:
    val = location_holdout(rows, val_fraction)
    split = rows.split.to_numpy()
    return {"train": (split == "train") & ~val, "val": val, "test": split == "test"}


# ---------------------------------------------------------------------------------------
# Runs.


def run_branch(
    variant: str,
    manifest_path: Path,
    inputs: list[Path],
    media_indexes: dict[str, list[Path]],
    hparams: dict,
    seed: int,
    out_dir: Path,
    weights: Path | None = None,
    device: str = "cpu",
    checkpoint_interval_s: float = 300.0,
    workers: int = 0,
) -> dict:
    """Train a phase-I branch and write its run folder: metrics.json, history.csv,
    predictions.parquet, model.pt, config.yaml (+ checkpoint.pt), and the embeddings of
    every clip it used, emb-fc1024.npz and emb-fc10.npz (feature-store shards).

    inputs: an aud variant's spectrogram store shards (features (N, 6, F, T), from
    features.spectrograms), or a vis variant's frames shards (media stage, "fps"
    sampler), whose frames are decoded a batch at a time, by `workers` DataLoader
    processes (0: in this one), so that the run's memory does not grow with the dataset.
    media_indexes: the media stage's "audio" and "frames" shard indexes; every run uses
    the clips whose audio and frames both decoded. weights: the ImageNet file
    of a vis variant's backbone (None: random, smoke tier). hparams: val_fraction,
    mixup_alpha, audio_widths (aud, optional) and `schedule` (loop.Schedule); Eq. 4's
    l2 term is schedule.weight_decay: Adam's (coupled) weight decay adds lambda * theta
    to every gradient, exactly the gradient of (lambda / 2) ||theta||^2 over all
    trainable parameters, as Eq. 4 writes it.
    """
    v = parse(variant)
    if v.model not in ("aud", "vis"):
        raise ValueError(f"{variant!r} is not a phase-I branch (aud_... or vis_...)")
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(manifest_path)
    classes = class_names(manifest)
    decoded = decodable(media_indexes["audio"], media_indexes["frames"])
    if v.model == "aud":
        ids, spectrograms = read_store(inputs)
        rows, aligned = assemble(manifest, {"x": (ids, spectrograms[:, None])}, decoded)
        clips, n_valid = aligned["x"], np.ones(len(rows), np.int64)  # (N, 1, ...), (N,)
    else:  # frames stay in their shards, decoded a batch at a time
        store = FrameStore(inputs)
        rows, _ = assemble(manifest, {"x": (store.clip_ids, store.n_valid)}, decoded)
        store = store.select(rows.clip_id)
        n_valid = store.n_valid
    labels = rows.label_index.to_numpy()
    masks = _masks(rows, hparams["val_fraction"])
    if v.model == "aud":
        splits = [frame_split(clips[masks[s]], n_valid[masks[s]], labels[masks[s]])
                  for s in ("train", "val", "test")]
    else:
        splits = [stored_frame_split(store.select(rows.clip_id[masks[s]]), labels[masks[s]],
                                     workers) for s in ("train", "val", "test")]

    widths = list(hparams.get("audio_widths", AUDIO_WIDTHS))
    schedule = Schedule(**hparams["schedule"])
    alpha = hparams.get("mixup_alpha", MIXUP_ALPHA)
    torch.manual_seed(seed)
    model = build_model(variant, len(classes), widths)
    if weights is not None:
        load_visual_weights(model, v.backbone, weights)
    run_config = {
        "variant": variant, "seed": seed, "classes": classes, "schedule": asdict(schedule),
        "mixup_alpha": alpha, "val_fraction": hparams["val_fraction"],
        "audio_widths": widths if v.model == "aud" else None,
        "inputs": [str(p) for p in inputs], "weights": str(weights) if weights else None,
    }
    result = fit(model, *splits, schedule=schedule, seed=seed,
                 checkpoint=out_dir / "checkpoint.pt", checkpoint_interval_s=checkpoint_interval_s,
                 device=torch.device(device),
                 fingerprint=fingerprint(run_config, [*inputs, *([weights] if weights else [])]),
                 train_step=mixup_kl_step(alpha, len(classes)))
    model.load_state_dict(result.best_state)
    if v.model == "aud":
        read, length = (lambda start, stop: clips[start:stop]), 1
    else:
        read, length = (lambda start, stop: np.stack([store.read(i) for i in range(start, stop)]),
                        store.clip_shape[0])
    outputs = clip_outputs(model, read, n_valid, length, schedule.batch_size,
                           torch.device(device))
    for key, name in EMBEDDING_FILES.items():
        write_shard(out_dir / name, rows.clip_id.tolist(), outputs[key].astype(np.float32))
    record = {"n_classes": len(classes), "audio_widths": widths}
    return _write_run(out_dir, variant, seed, rows, masks, outputs["probs"], result, record,
                      run_config, classes, len(manifest))


def run_fusion(
    variant: str,
    manifest_path: Path,
    branch_dirs: dict[str, Path],
    hparams: dict,
    seed: int,
    out_dir: Path,
    device: str = "cpu",
    checkpoint_interval_s: float = 300.0,
) -> dict:
    """Train a phase-II fusion on its frozen branches' embeddings; write its run folder.

    branch_dirs maps each variant of `fusion_branches(variant)` to its run folder (same
    seed), whose `embedding_file(variant)` is read. Uses the clips every branch embedded
    and the same validation locations as the branches. hparams: val_fraction,
    mixup_alpha (mixup on the embeddings, §III-A) and `schedule` (l2 as in run_branch).
    """
    v = parse(variant)
    if v.model != "fusion":
        raise ValueError(f"{variant!r} is not a fusion variant")
    needed = fusion_branches(variant)
    missing = [b for b in needed if b not in branch_dirs]
    if missing:
        raise ValueError(f"{variant}: no run folder for branch(es) {missing}")
    paths = [Path(branch_dirs[b]) / embedding_file(variant) for b in needed]
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(manifest_path)
    classes = class_names(manifest)
    rows, aligned = assemble(manifest, {b: read_store([p]) for b, p in zip(needed, paths,
                                                                           strict=True)})
    labels = torch.tensor(rows.label_index.to_numpy(), dtype=torch.long)
    masks = _masks(rows, hparams["val_fraction"])
    embeddings = [torch.from_numpy(aligned[b]).float() for b in needed]
    splits = [Split(tuple(e[masks[s]] for e in embeddings), labels[masks[s]])
              for s in ("train", "val", "test")]

    schedule = Schedule(**hparams["schedule"])
    alpha = hparams.get("mixup_alpha", MIXUP_ALPHA)
    torch.manual_seed(seed)
    model = build_model(variant, len(classes))
    run_config = {
        "variant": variant, "seed": seed, "classes": classes, "schedule": asdict(schedule),
        "mixup_alpha": alpha, "val_fraction": hparams["val_fraction"],
        "inputs": [str(p) for p in paths],
    }
    dev = torch.device(device)
    result = fit(model, *splits, schedule=schedule, seed=seed,
                 checkpoint=out_dir / "checkpoint.pt", checkpoint_interval_s=checkpoint_interval_s,
                 device=dev,
                 fingerprint=fingerprint(run_config, paths),
                 train_step=mixup_kl_step(alpha, len(classes)))
    model.load_state_dict(result.best_state)
    model.eval()
    with torch.no_grad():
        probs = torch.softmax(model(*(e.to(dev) for e in embeddings)), 1).cpu().numpy()
    return _write_run(out_dir, variant, seed, rows, masks, probs, result,
                      {"n_classes": len(classes)}, run_config, classes, len(manifest))
