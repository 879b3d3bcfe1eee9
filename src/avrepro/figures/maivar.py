"""MAiVAR's Figures 6-9, rebuilt from run folders, features and media."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from avrepro.naming import parse_variant
from avrepro.variants.maivar import backbone_name

REPRESENTATION_LABELS = {
    "wp": "Waveplot", "mfcc": "MFCC", "mfs": "MFCC feature scaling",
    "sc": "Spectral centroid", "sr": "Spectral rolloff", "ch": "Chromagram",
}


def fig6_backbones(metrics: list[dict]) -> Figure:
    """Audio-only test accuracy per audio-image backbone and representation (UCF51)."""
    records = []
    for m in metrics:
        _, opts = parse_variant(m["variant"])
        records.append({"backbone": backbone_name(opts["bb"]), "rep": opts["rep"],
                        "accuracy": m["accuracy"]})
    stats = pd.DataFrame(records).groupby(["rep", "backbone"], sort=False).accuracy.agg(
        ["mean", "std"]).reset_index()
    reps = list(dict.fromkeys(stats.rep))
    backbones = list(dict.fromkeys(stats.backbone))
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(backbones)
    for i, backbone in enumerate(backbones):
        part = stats[stats.backbone == backbone].set_index("rep").loc[reps]
        x = np.arange(len(reps)) + (i - (len(backbones) - 1) / 2) * width
        ax.bar(x, part["mean"], width, yerr=part["std"].fillna(0), capsize=2, label=backbone)
    labels = [REPRESENTATION_LABELS[r].replace(" ", "\n", 1) for r in reps]
    ax.set_xticks(np.arange(len(reps)), labels)
    ax.set_ylabel("audio-only test accuracy [%]")
    ax.set_title("Audio-image feature extractors on UCF51 (mean ± std over seeds)")
    ax.legend(title="backbone", ncols=len(backbones), fontsize="small",
              loc="upper center", bbox_to_anchor=(0.5, -0.15))
    ax.grid(axis="y", alpha=0.3)
    return fig


def fig7_convergence(histories: dict[str, list[pd.DataFrame]]) -> Figure:
    """Test accuracy per epoch of the fusion network, one curve per representation."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for rep, runs in histories.items():
        curves = np.stack([100 * h.sort_values("epoch").test_acc.to_numpy() for h in runs])
        epochs = np.arange(1, curves.shape[1] + 1)
        mean = curves.mean(0)
        ax.plot(epochs, mean, label=REPRESENTATION_LABELS[rep])
        if len(runs) > 1:
            std = curves.std(0, ddof=1)
            ax.fill_between(epochs, mean - std, mean + std, alpha=0.15)
    ax.set_xlabel("epoch")
    ax.set_ylabel("fusion test accuracy [%]")
    ax.set_title("Convergence of audio representations after fusion (UCF51)")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return fig


def fused_embedding(model, audio: np.ndarray, video: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model.embed(torch.from_numpy(audio).float(),
                           torch.from_numpy(video).float()).numpy()  # (N, hidden)


def fig9_representations(frames: np.ndarray, images: dict[str, np.ndarray], title: str) -> Figure:
    """Segmented video input (a few of the TSN segments) and the six audio images of a clip."""
    shown = np.linspace(0, len(frames) - 1, 6).round().astype(int)
    fig = plt.figure(figsize=(10, 7.5))
    grid = fig.add_gridspec(3, 6, height_ratios=[0.8, 1, 1])
    for i, seg in enumerate(shown):
        ax = fig.add_subplot(grid[0, i])
        ax.imshow(frames[seg])
        ax.set_title(f"segment {seg + 1}", fontsize="small")
        ax.axis("off")
    for i, (code, image) in enumerate(images.items()):
        ax = fig.add_subplot(grid[1 + i // 3, 2 * (i % 3) : 2 * (i % 3) + 2])
        ax.imshow(image)
        ax.set_title(REPRESENTATION_LABELS[code], fontsize="small")
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
