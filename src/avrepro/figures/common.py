"""Shared figure plumbing: a headless backend and saving every requested format."""

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # jobs run without a display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def save(fig: Figure, outputs: Sequence[str | Path]) -> None:
    for out in outputs:
        fig.savefig(out, dpi=150, bbox_inches="tight")
    plt.close(fig)
