"""A figure Lee et al. do not print and their readers want: the per-class change in top-1
accuracy that sound brings to the RGB stream, real sound and generated sound side by side,
the classes of Table 5 marked. From the runs' metrics (per-class accuracy) only."""

import numpy as np
from matplotlib.figure import Figure

from avrepro.figures.common import plt
from avrepro.tables import per_class_gain

LABELLED_CLASSES = 40  # beyond this many classes, only the marked ones are named


def gain_figure(rgb: list[dict], real: list[dict], generated: list[dict],
                marked: dict[str, str]) -> Figure:
    """Bars: per-class gain of RGB + generated sound over RGB (percentage points, mean over
    seeds), classes sorted by it; dots: the gain of RGB + real sound. `marked` maps a class
    to its note (e.g. "Table 5, ours" / "Table 5, paper"), drawn in the bar's colour and
    named on the axis. Classes the runs' test split lacks are left out."""
    gen_gain = per_class_gain(generated, rgb).sort_values(ascending=False)
    real_gain = per_class_gain(real, rgb).reindex(gen_gain.index)
    classes = list(gen_gain.index)
    x = np.arange(len(classes))
    fig, ax = plt.subplots(figsize=(max(6.0, min(0.3 * len(classes), 24.0)), 4.8))
    colours = ["tab:orange" if c in marked else "tab:blue" for c in classes]
    ax.bar(x, gen_gain.to_numpy(), color=colours, label="RGB + generated sound (S(gen))")
    ax.plot(x, real_gain.to_numpy(), "k.", label="RGB + real sound (S)")
    ax.axhline(0, color="grey", linewidth=0.8)
    shown = classes if len(classes) <= LABELLED_CLASSES else [
        c if c in marked else "" for c in classes]
    ax.set_xticks(x, shown, rotation=70, ha="right", fontsize="small")
    for tick, name in zip(ax.get_xticklabels(), classes, strict=True):
        if name in marked:
            tick.set_color("tab:orange")
    ax.set_ylabel("per-class top-1 gain over RGB [points]")
    ax.set_title(f"What sound adds to the RGB stream, per class ({len(rgb)} seeds); "
                 "orange: Table 5's classes")
    notes = [f"{name}: {note}" for name, note in marked.items() if name not in classes]
    if notes:  # the paper's classes that this dataset lacks (the smoke tier's subset)
        ax.text(0.99, 0.98, "not in this dataset:\n" + "\n".join(notes), ha="right", va="top",
                transform=ax.transAxes, fontsize="x-small", color="grey")
    ax.legend(loc="lower left", fontsize="small")
    fig.tight_layout()
    return fig
