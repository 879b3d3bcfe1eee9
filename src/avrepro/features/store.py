"""The feature store: one .npz per (dataset, extractor, shard) holding `features` and
the `clip_id` of each row (the row index), written atomically."""

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def write_shard(path: Path, clip_ids: Sequence[str], features: np.ndarray) -> None:
    if len(clip_ids) != len(features):
        raise ValueError(f"{path}: {len(clip_ids)} clip ids for {len(features)} feature rows")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, features=features, clip_id=np.asarray(clip_ids, dtype=str))
    os.replace(tmp, path)


def read_store(shards: Sequence[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate the shards of one store: (clip_id (N,), features (N, ...))."""
    ids, feats = [], []
    for shard in shards:
        with np.load(shard) as data:
            ids.append(data["clip_id"])
            feats.append(data["features"])
    return np.concatenate(ids), np.concatenate(feats)
