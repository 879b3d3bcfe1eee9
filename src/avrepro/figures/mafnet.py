"""MAFnet's figures (Brousmiche et al.): Figure 6, accuracy against the rate at which the
visual path's update is dropped; Figure 7, the audio residual block's embedding before and
after FiLM (t-SNE panels, figures.common.tsne_panels)."""

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from avrepro.figures.common import plt
from avrepro.train.mafnet import parse


def drop_rate_accuracy(metrics: list[dict]) -> pd.DataFrame:
    """Mean and sample std of test accuracy over seeds per drop rate, from runs' metrics."""
    frame = pd.DataFrame(
        {"drop": [parse(m["variant"]).drop for m in metrics],
         "accuracy": [m["accuracy"] for m in metrics]}
    )
    summary = frame.groupby("drop")["accuracy"].agg(["mean", "std", "count"])
    return summary.reset_index().rename(columns={"count": "n"})


def fig6_drop_rates(metrics: list[dict], dataset: str) -> Figure:
    """Test accuracy of the full model against the visual-update drop rate (mean +- std)."""
    summary = drop_rate_accuracy(metrics)
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.errorbar(summary["drop"], summary["mean"], yerr=summary["std"].fillna(0), marker="o",
                capsize=3)
    best = summary.loc[summary["mean"].idxmax()]
    ax.annotate(f"{best['mean']:.1f}", (best["drop"], best["mean"]), textcoords="offset points",
                xytext=(0, 8), ha="center", fontsize="small")
    ax.set_xlabel("rate at which the visual path's update is dropped")
    ax.set_ylabel("test accuracy [%]")
    ax.set_title(f"MAFnet on {dataset}: dropping the visual update "
                 f"(n = {int(summary['n'].min())} seeds)")
    ax.set_xticks(summary["drop"])
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def sample_windows(labels: np.ndarray, max_points: int, seed: int) -> np.ndarray:
    """Indices of at most `max_points` windows, drawn evenly over classes, sorted."""
    rng = np.random.default_rng(seed)
    if len(labels) <= max_points:
        return np.arange(len(labels))
    per_class = max(1, max_points // len(np.unique(labels)))
    picked = [rng.permutation(np.flatnonzero(labels == k))[:per_class] for k in np.unique(labels)]
    return np.sort(np.concatenate(picked))
