"""A figure Lee et al. do not print and their readers want: the per-class change in top-1
accuracy that sound brings to the RGB stream, real sound and generated sound side by side,
the classes of Table 5 marked. From the runs' metrics (per-class accuracy) only."""

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from avrepro.figures.common import plt
from avrepro.tables import per_class_gain

LABELLED_CLASSES = 40  # beyond this many classes, only the marked ones are named


def gain_figure(rgb: list[dict], real: list[dict], generated: list[dict],
                ours: set[str], papers: set[str]) -> Figure:
    """Bars: per-class gain of RGB + generated sound over RGB (percentage points, mean over
    seeds), classes sorted by it; dots: the gain of RGB + real sound. Table 5's classes as
    we rank them (`ours`) get orange bars, those the paper names (`papers`) red labels;
    marked classes are always named. Classes the runs' test split lacks are left out."""
    gen_gain = per_class_gain(generated, rgb).sort_values(ascending=False)
    real_gain = per_class_gain(real, rgb).reindex(gen_gain.index)
    classes = list(gen_gain.index)
    x = np.arange(len(classes))
    fig, ax = plt.subplots(figsize=(max(9.0, min(0.3 * len(classes) + 3.0, 27.0)), 4.8))
    colours = ["tab:orange" if c in ours else "tab:blue" for c in classes]
    ax.bar(x, gen_gain.to_numpy(), color=colours)
    ax.plot(x, real_gain.to_numpy(), "k.", markersize=8)
    ax.axhline(0, color="grey", linewidth=0.8)
    marked = ours | papers
    shown = classes if len(classes) <= LABELLED_CLASSES else [
        c if c in marked else "" for c in classes]
    ax.set_xticks(x, shown, rotation=70, ha="right", fontsize="small")
    for tick, name in zip(ax.get_xticklabels(), classes, strict=True):
        if name in papers:
            tick.set_color("tab:red")
    ax.set_ylabel("per-class top-1 gain over RGB [points]")
    ax.set_title(f"What sound adds to the RGB stream, per class (mean of {len(rgb)} seeds)")
    handles = [
        Patch(color="tab:blue", label="RGB + generated sound (bars)"),
        Patch(color="tab:orange", label="Table 5, our top classes"),
        Line2D([], [], color="k", marker=".", linestyle="", markersize=8,
               label="RGB + real sound"),
        Line2D([], [], color="tab:red", marker="$a$", linestyle="",
               label="Table 5, the paper's classes (red labels)"),
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    missing = sorted(papers - set(classes))
    if missing:  # the paper's classes that this dataset lacks (the smoke tier's subset)
        ax.text(1.01, 0.0, "not in this dataset:\n" + "\n".join(missing), va="bottom",
                transform=ax.transAxes, fontsize="x-small", color="grey")
    fig.tight_layout()
    return fig
