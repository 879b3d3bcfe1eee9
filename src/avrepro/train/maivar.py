"""Train one MAiVAR run (phase 1: audio or video MLP; phase 2: dominant head fusion)
on frozen features and write its run folder. Variant names: avrepro.variants.maivar.
"""

from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from avrepro.data.manifest import read_manifest
from avrepro.features.store import read_store, read_views
from avrepro.models.maivar import MLP, DominantHeadFusion, l1_penalty
from avrepro.naming import parse_variant
from avrepro.train.clips import assemble, decodable, holdout
from avrepro.train.loop import Schedule, Split, TrainStep, cross_entropy_step, evaluate, fit
from avrepro.train.run_folder import fingerprint, predictions, write_run

AUDIO_VIEWS = "audio_views"  # the audio features of every flipped view, (N, 4, dim)
VIDEO_VIEWS = "video_views"  # the segment centres and TSN's random snippets, (N, 1 + V, K, dim)


def standardization(features: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std over the training clips (std floored to avoid 0/0)."""
    flat = features[train].reshape(int(train.sum()), -1)
    return flat.mean(0), np.maximum(flat.std(0), 1e-8)


def standardize(features: np.ndarray, stats: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    mean, std = stats
    shape = features.shape
    return ((features.reshape(shape[0], -1) - mean) / std).reshape(shape).astype(np.float32)


def _split(features: dict[str, np.ndarray], labels: np.ndarray, mask: np.ndarray, order):
    inputs = tuple(torch.from_numpy(features[m][mask]).float() for m in order)
    return Split(inputs=inputs, labels=torch.from_numpy(labels[mask]).long())


def view_step(with_views: tuple[bool, ...]) -> TrainStep:
    """A cross-entropy step on training inputs some of which (`with_views`) hold every
    augmented view of a clip, (B, V, ...): each clip gets one view, drawn from the epoch's
    generator, so that each epoch sees a fresh augmentation and a resumed run the same."""
    def step(model, inputs, labels, generator):
        drawn = []
        for x, views in zip(inputs, with_views, strict=True):
            if views:
                pick = torch.randint(x.shape[1], (len(x),), generator=generator).to(x.device)
                x = x[torch.arange(len(x), device=x.device), pick]  # (B, ...)
            drawn.append(x)
        return cross_entropy_step(model, tuple(drawn), labels, generator)

    return step


def load_model(path: Path, n_classes: int, hidden: int) -> tuple[torch.nn.Module, dict]:
    """A trained run's model (best epoch) and the standardisation it was trained with."""
    saved = torch.load(path, map_location="cpu", weights_only=False)
    dims = saved["input_dims"]
    if saved["model"] == "dhf":
        model = DominantHeadFusion(dims["audio"], dims["video"], n_classes, hidden)
    else:
        model = MLP(next(iter(dims.values())), n_classes, hidden)
    model.load_state_dict(saved["state"])
    return model.eval(), saved["standardization"]


def run(
    variant: str,
    manifest_path: Path,
    shards: dict[str, list[Path]],
    media_indexes: dict[str, list[Path]],
    n_classes: int,
    hparams: dict,
    seed: int,
    out_dir: Path,
    video_mlp: Path | None = None,
    device: str = "cpu",
    checkpoint_interval_s: float = 300.0,
) -> dict:
    """Train `variant` and write metrics.json, history.csv, predictions.parquet, model.pt
    and config.yaml into `out_dir` (plus checkpoint.pt, the resumable training state).
    `shards` maps modality ("audio", "video") to its feature-store shards, `media_indexes`
    ("audio", "frames") to the media stage's shard indexes; `hparams` holds
    val_fraction, standardize, hidden, audio_flips, video_snippets and the model's
    `schedule` (see train.loop.Schedule)."""
    model_name, _ = parse_variant(variant)
    order = {"vmlp": ("video",), "amlp": ("audio",), "dhf": ("audio", "video")}[model_name]
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(manifest_path)
    decoded = decodable(media_indexes["audio"], media_indexes["frames"])
    stores = {m: read_store(shards[m]) for m in order}
    flips = hparams["audio_flips"] and "audio" in order
    snippets = hparams["video_snippets"] and "video" in order
    # Training inputs of every augmented view: §4.2's flipped audio images, §3.3's TSN
    # snippets (one random frame a segment).
    augmented = {m: views for m, views, on in (("audio", AUDIO_VIEWS, flips),
                                                ("video", VIDEO_VIEWS, snippets)) if on}
    stores |= {views: read_views(shards[m]) for m, views in augmented.items()}
    rows, feats = assemble(manifest, stores, decoded)
    labels = rows.label_index.to_numpy()
    val = holdout(rows, hparams["val_fraction"])
    train = (rows.split == "train").to_numpy() & ~val
    test = (rows.split == "test").to_numpy()
    stats = {}
    if hparams["standardize"]:
        stats = {m: standardization(feats[m], train) for m in order}
        feats |= {m: standardize(feats[m], stats[m]) for m in order}
        for m, key in augmented.items():  # with the unaugmented training clips' stats
            views = feats[key]
            flat = views.reshape(-1, *views.shape[2:])
            feats[key] = standardize(flat, stats[m]).reshape(views.shape)
    # Training draws an augmented view per clip and epoch; model selection and the test
    # see view 0 (the images as rendered, the segment centres), as torchvision's random
    # flips and TSN's random snippets are train-only.
    train_order = tuple(augmented.get(m, m) for m in order)
    splits = [_split(feats, labels, train, train_order),
              *(_split(feats, labels, mask, order) for mask in (val, test))]
    dims = {m: int(np.prod(feats[m].shape[1:])) for m in order}

    hidden = hparams["hidden"]
    schedule = Schedule(**hparams["schedule"])
    torch.manual_seed(seed)
    if model_name == "dhf":
        model = DominantHeadFusion(dims["audio"], dims["video"], n_classes, hidden)
        vmlp, _ = load_model(video_mlp, n_classes, hidden)
        model.init_from_video_mlp(vmlp)
    else:
        model = MLP(dims[order[0]], n_classes, hidden)

    run_config = {
        "variant": variant, "seed": seed, "n_classes": n_classes, "hidden": hidden,
        "schedule": asdict(schedule), "val_fraction": hparams["val_fraction"],
        "standardize": hparams["standardize"], "audio_flips": flips,
        "video_snippets": snippets,
        "inputs": {m: [str(p) for p in shards[m]] for m in order},
        "video_mlp": str(video_mlp) if video_mlp else None,
    }
    result = fit(
        model, *splits, schedule=schedule, seed=seed, checkpoint=out_dir / "checkpoint.pt",
        checkpoint_interval_s=checkpoint_interval_s,
        record_test=True,  # Fig. 7's convergence curves
        device=torch.device(device),
        fingerprint=fingerprint(run_config, [p for paths in shards.values() for p in paths]),
        regulariser=l1_penalty if model_name == "dhf" else None,
        train_step=view_step(tuple(m in augmented.values() for m in train_order)),
    )
    model.load_state_dict(result.best_state)
    _, test_acc, probs = evaluate(model, splits[2], schedule.batch_size, torch.device(device))

    model_record = {"model": model_name, "state": result.best_state, "input_dims": dims,
                    "standardization": stats, "best_epoch": result.best_epoch}
    test_rows = rows[test]
    metrics = {
        "paper": "maivar",
        "variant": variant,
        "seed": seed,
        "accuracy": 100 * test_acc,
        "best_epoch": result.best_epoch,
        "val_accuracy": 100 * result.history[result.best_epoch]["val_acc"],
        "clips": {"train": int(train.sum()), "val": int(val.sum()), "test": int(test.sum()),
                  "listed": len(manifest), "unusable": int(len(manifest) - len(rows))},
    }
    return write_run(
        out_dir, model_record,
        predictions(test_rows.clip_id.to_numpy(), test_rows.label_index.to_numpy(), probs),
        result.history, run_config, metrics,
    )
