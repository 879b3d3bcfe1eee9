"""Classification metrics of a run's test predictions, as its metrics.json records them."""

import numpy as np


def top_k_accuracy(labels: np.ndarray, probs: np.ndarray, k: int) -> float:
    """Percent of clips whose true class is among the k most probable (ties: lowest index
    first). A row of zeros (a clip the run could not score) is never right."""
    labels, probs = np.asarray(labels), np.asarray(probs)
    if not len(labels):
        return 0.0
    k = min(k, probs.shape[1])
    top = np.argsort(-probs, axis=1, kind="stable")[:, :k]  # (N, k)
    hit = (top == labels[:, None]).any(axis=1) & (probs.max(axis=1) > 0)
    return 100 * float(hit.mean())


def classification_metrics(labels: np.ndarray, probs: np.ndarray, classes: list[str]) -> dict:
    """Top-1 accuracy (`accuracy`), top-5 accuracy (`top5`), per-class top-1 accuracy and
    the confusion matrix (rows: true class, columns: predicted), in percent and counts.

    labels (N,) class indexes; probs (N, n_classes) class probabilities (or any scores).
    """
    labels, probs = np.asarray(labels, dtype=np.int64), np.asarray(probs)
    n = len(classes)
    predicted = probs.argmax(axis=1) if len(probs) else np.zeros(0, np.int64)
    scored = probs.max(axis=1) > 0 if len(probs) else np.zeros(0, bool)
    confusion = np.zeros((n, n), dtype=np.int64)
    np.add.at(confusion, (labels[scored], predicted[scored]), 1)
    totals = np.bincount(labels, minlength=n)
    per_class = {
        name: 100 * confusion[k, k] / totals[k] if totals[k] else None
        for k, name in enumerate(classes)
    }
    return {
        "accuracy": top_k_accuracy(labels, probs, 1),
        "top5": top_k_accuracy(labels, probs, 5),
        "per_class": per_class,
        "classes": list(classes),
        "confusion": confusion.tolist(),
    }
