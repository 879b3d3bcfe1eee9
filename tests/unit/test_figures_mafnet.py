"""MAFnet's figures summarise runs correctly and draw real figures."""

import numpy as np
import pytest

from avrepro.figures.common import tsne_panels
from avrepro.figures.mafnet import drop_rate_accuracy, fig6_drop_rates, sample_windows

FULL = "mafnet_fusion-concat_att-both_film-audio_drop-{}"


def test_drop_rate_accuracy_is_mean_and_std_over_seeds():
    metrics = [{"variant": FULL.format(p), "accuracy": a}
               for p, a in [("0", 80.0), ("0", 84.0), ("0.1", 90.0), ("0.1", 92.0)]]
    summary = drop_rate_accuracy(metrics).set_index("drop")
    assert summary.loc[0.0, "mean"] == 82.0 and summary.loc[0.1, "mean"] == 91.0
    assert summary.loc[0.1, "std"] == pytest.approx(np.std([90, 92], ddof=1))
    assert summary["n"].tolist() == [2, 2]


def test_fig6_draws_one_point_per_rate():
    metrics = [{"variant": FULL.format(p), "accuracy": 70.0 + i}
               for i, p in enumerate(["0", "0.1", "0.3"])]
    fig = fig6_drop_rates(metrics, "AVE")
    [errorbar] = fig.axes[0].containers
    data_line = errorbar.lines[0]
    assert data_line.get_xdata().tolist() == [0.0, 0.1, 0.3]
    assert data_line.get_ydata().tolist() == [70.0, 71.0, 72.0]


def test_sample_windows_is_balanced_and_bounded():
    labels = np.repeat([0, 1, 2], [100, 10, 50])
    keep = sample_windows(labels, max_points=30, seed=0)
    assert np.bincount(labels[keep]).tolist() == [10, 10, 10]
    assert sample_windows(labels[:20], 30, 0).tolist() == list(range(20))


def test_tsne_panels_have_a_panel_per_embedding_and_a_legend():
    points = {"before FiLM": np.zeros((4, 2)), "after FiLM": np.ones((4, 2))}
    fig = tsne_panels(points, np.array([0, 0, 1, 1]), ["a", "b"], "t")
    assert [ax.get_title() for ax in fig.axes] == ["before FiLM", "after FiLM"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["a", "b"]
