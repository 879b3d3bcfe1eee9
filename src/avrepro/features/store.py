"""The feature store: one .npz per (dataset, extractor, shard) holding `features` and
the `clip_id` of each row (the row index), written atomically. Stores of window features
(MAFnet's one-second windows) also hold `n_valid`, each clip's count of real windows;
stores of augmented inputs `views`, each clip's features of every augmented view
(MAiVAR's flipped audio images: (N, V, dim), view 0 the unaugmented `features`)."""

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def write_shard(
    path: Path,
    clip_ids: Sequence[str],
    features: np.ndarray,
    n_valid: np.ndarray | None = None,
    views: np.ndarray | None = None,
) -> None:
    if len(clip_ids) != len(features):
        raise ValueError(f"{path}: {len(clip_ids)} clip ids for {len(features)} feature rows")
    arrays = {"features": features, "clip_id": np.asarray(clip_ids, dtype=str)}
    if n_valid is not None:
        if len(n_valid) != len(features):
            raise ValueError(f"{path}: {len(n_valid)} window counts for {len(features)} rows")
        arrays["n_valid"] = np.asarray(n_valid, dtype=np.int64)
    if views is not None:
        if views.shape[0] != len(features) or views.shape[2:] != features.shape[1:]:
            raise ValueError(f"{path}: views {views.shape} do not match features "
                             f"{features.shape}")
        arrays["views"] = views
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def read_store(shards: Sequence[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate the shards of one store: (clip_id (N,), features (N, ...))."""
    ids, feats, _ = _read(shards, windows=False)
    return ids, feats


def read_views(shards: Sequence[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate the augmented views of a store's shards: (clip_id (N,), views (N, V, ...))."""
    ids, views = [], []
    for shard in shards:
        with np.load(shard) as data:
            if "views" not in data:
                raise ValueError(f"{shard}: holds no augmented views (extracted without them)")
            ids.append(data["clip_id"])
            views.append(data["views"])
    if not ids:
        raise ValueError("a store needs at least one shard")
    return np.concatenate(ids), np.concatenate(views)


def read_windows(shards: Sequence[Path]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate the shards of a window store: (clip_id (N,), features (N, T, ...),
    n_valid (N,))."""
    return _read(shards, windows=True)


def _read(shards: Sequence[Path], windows: bool):
    ids, feats, counts = [], [], []
    for shard in shards:
        with np.load(shard) as data:
            if windows and "n_valid" not in data:
                raise ValueError(f"{shard}: not a window store (no n_valid)")
            ids.append(data["clip_id"])
            feats.append(data["features"])
            if windows:
                counts.append(data["n_valid"])
    if not ids:
        raise ValueError("a store needs at least one shard")
    n_valid = np.concatenate(counts) if windows else None
    return np.concatenate(ids), np.concatenate(feats), n_valid
