"""Shared figure plumbing: a headless backend, saving every requested format, t-SNE panels."""

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # jobs run without a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.manifold import TSNE  # noqa: E402


def save(fig: Figure, outputs: Sequence[str | Path]) -> None:
    for out in outputs:
        fig.savefig(out, dpi=150, bbox_inches="tight")
    plt.close(fig)


def tsne_2d(features: np.ndarray, perplexity: float, seed: int) -> np.ndarray:
    """PCA to at most 50 dimensions (the usual t-SNE preprocessing), then 2-D t-SNE."""
    flat = features.reshape(len(features), -1)
    flat = PCA(n_components=min(50, *flat.shape), random_state=seed).fit_transform(flat)
    perplexity = min(perplexity, (len(flat) - 1) / 3)  # t-SNE needs perplexity < n
    return TSNE(perplexity=perplexity, random_state=seed, init="pca").fit_transform(flat)


def tsne_panels(
    points: dict[str, np.ndarray], labels: np.ndarray, classes: list[str], title: str
) -> Figure:
    """One scatter panel per embedding (2-D points), coloured by class, one shared legend."""
    fig, axes = plt.subplots(1, len(points), figsize=(5 * len(points), 4.6), squeeze=False)
    cmap = plt.get_cmap("tab20" if len(classes) > 10 else "tab10")
    for ax, (panel, xy) in zip(axes[0], points.items(), strict=True):
        for k, name in enumerate(classes):
            sel = labels == k
            ax.scatter(xy[sel, 0], xy[sel, 1], s=8, color=cmap(k % cmap.N), label=name)
        ax.set_title(panel)
        ax.set_xticks([])
        ax.set_yticks([])
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncols=min(len(classes), 6), fontsize="small",
               markerscale=2)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    return fig
