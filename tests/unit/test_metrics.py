"""A run's classification metrics (avrepro.train.metrics), which every paper's runs write."""

import numpy as np
import pytest

from avrepro.train.metrics import classification_metrics, top_k_accuracy


def one_hot(predicted, n):
    return np.eye(n)[predicted]


def test_accuracy_per_class_and_confusion():
    metrics = classification_metrics(np.array([0, 0, 1, 2, 2]), one_hot([0, 1, 1, 2, 0], 3),
                                     ["airport", "bus", "park"])
    assert metrics["accuracy"] == pytest.approx(60)
    assert metrics["per_class"] == {"airport": 50, "bus": 100, "park": 50}
    assert metrics["confusion"] == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]  # rows: true class


def test_top_k_counts_the_true_class_among_the_k_most_probable():
    probs = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1]])
    labels = np.array([1, 2, 2])
    assert top_k_accuracy(labels, probs, 1) == pytest.approx(100 / 3)
    assert top_k_accuracy(labels, probs, 2) == pytest.approx(200 / 3)
    assert top_k_accuracy(labels, probs, 5) == pytest.approx(100)  # k past the classes: all


def test_a_clip_without_scores_is_never_right():
    probs = np.array([[0.0, 0.0], [0.2, 0.8]])
    metrics = classification_metrics(np.array([0, 1]), probs, ["a", "b"])
    assert metrics["accuracy"] == pytest.approx(50)
    assert metrics["top5"] == pytest.approx(50)
    assert metrics["per_class"] == {"a": 0, "b": 100}
