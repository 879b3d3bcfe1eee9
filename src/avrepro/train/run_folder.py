"""A finished run's folder (results/{paper}/{dataset}/{variant}/seed{seed}/): model.pt
(but for runs that train nothing), predictions.parquet, history.csv, config.yaml and,
written last, metrics.json, whose presence marks the run finished (checkpoint.pt, the
resumable state, is the loop's)."""

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import yaml


def predictions(clip_ids: np.ndarray, labels: np.ndarray, probs: np.ndarray) -> pd.DataFrame:
    """Test predictions: clip_id, label_index, prediction, its confidence, and `probs`,
    every class's probability (a list per clip), so that a training-free method (late
    fusion, ensembles, calibration) reads runs rather than models. probs (N, n_classes)
    are class probabilities; `read_probs` gives them back as an array."""
    probs = np.asarray(probs, dtype=np.float32)
    return pd.DataFrame({
        "clip_id": np.asarray(clip_ids).astype(str),
        "label_index": labels,
        "prediction": probs.argmax(1),
        "confidence": probs.max(1),
        "probs": list(probs),
    })


def read_probs(predictions: pd.DataFrame) -> np.ndarray:
    """The (N, n_classes) probabilities of a predictions table, in its row order."""
    if not len(predictions):
        return np.zeros((0, 0), np.float32)
    return np.stack(predictions["probs"].to_numpy()).astype(np.float32)


def fingerprint(run_config: dict, files: Iterable[str | Path]) -> str:
    """Digest of a run's definition and of its input files' identity (size, mtime): what
    train.loop.fit compares before resuming from a checkpoint."""
    stamp = [(f, os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in sorted(map(str, files))]
    blob = json.dumps([run_config, stamp], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def write_run(out_dir: Path, model: dict | None, predictions: pd.DataFrame,
              history: list[dict] | pd.DataFrame, run_config: dict, metrics: dict) -> dict:
    """Write the run's files into `out_dir`; metrics.json goes last and atomically.
    A run that trains nothing (a late fusion) passes no model, so writes no model.pt, and
    an empty DataFrame as its history, so that its history.csv still reads as a table."""
    if model is not None:
        import torch  # here: a run without a model need not import torch

        torch.save(model, out_dir / "model.pt")
    predictions.to_parquet(out_dir / "predictions.parquet", index=False)
    pd.DataFrame(history).to_csv(out_dir / "history.csv", index=False)
    (out_dir / "config.yaml").write_text(yaml.safe_dump(run_config, sort_keys=False))
    tmp = out_dir / "metrics.json.tmp"
    tmp.write_text(json.dumps(metrics, indent=2))
    os.replace(tmp, out_dir / "metrics.json")
    return metrics
