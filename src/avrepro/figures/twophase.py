"""Two-phase Figure 4: confusion matrices of the audio, visual and audio-visual systems
(f4 fusion), from their runs' metrics (rows: true scene, columns: predicted)."""

import numpy as np
from matplotlib.figure import Figure

from avrepro.figures.common import plt


def pooled_confusion(metrics: list[dict]) -> tuple[np.ndarray, list[str]]:
    """The confusion counts of one system summed over its seeds, and its class names."""
    classes = metrics[0]["classes"]
    if any(m["classes"] != classes for m in metrics):
        raise ValueError(f"runs of {metrics[0]['variant']} disagree on their classes")
    return np.sum([np.asarray(m["confusion"]) for m in metrics], axis=0), classes


def row_percent(confusion: np.ndarray) -> np.ndarray:
    """Each true class's predictions in percent (a class without test clips stays 0)."""
    totals = confusion.sum(axis=1, keepdims=True)
    return np.divide(100.0 * confusion, totals, out=np.zeros(confusion.shape), where=totals > 0)


def fig4_confusions(systems: dict[str, list[dict]]) -> Figure:
    """One row-normalised confusion matrix per system, accuracies in the titles."""
    fig, axes = plt.subplots(1, len(systems), figsize=(5.2 * len(systems), 5.0), squeeze=False)
    for ax, (title, metrics) in zip(axes[0], systems.items(), strict=True):
        confusion, classes = pooled_confusion(metrics)
        percent = row_percent(confusion)
        ax.imshow(percent, cmap="Blues", vmin=0, vmax=100)
        for (i, j), value in np.ndenumerate(percent):
            if value >= 0.5:
                ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize="x-small",
                        color="white" if value > 60 else "black")
        labels = [c.replace("_", " ") for c in classes]
        ax.set_xticks(range(len(classes)), labels, rotation=60, ha="right", fontsize="small")
        ax.set_yticks(range(len(classes)), labels, fontsize="small")
        accuracy = 100.0 * np.trace(confusion) / max(confusion.sum(), 1)
        ax.set_title(f"{title}: {accuracy:.1f} % ({len(metrics)} seeds)")
        ax.set_xlabel("predicted")
    axes[0, 0].set_ylabel("true scene")
    fig.tight_layout()
    return fig
