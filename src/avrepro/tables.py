"""Build a paper's table: its reported numbers beside ours, from metrics files only.

Reported values come from the metafile; reproduced values are the mean and sample standard
deviation of the runs' test accuracy over seeds, with n and the run folders they come from.
A reported number never flows into a reproduced cell.
"""

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from avrepro.papers import SINGLE, Table


def load_metrics(paths: Iterable[Path]) -> dict[str, list[dict]]:
    """Metrics files grouped by variant; each record remembers its run folder."""
    by_variant: dict[str, list[dict]] = {}
    for path in paths:
        metrics = json.loads(Path(path).read_text())
        metrics["run_dir"] = str(Path(path).parent)
        by_variant.setdefault(metrics["variant"], []).append(metrics)
    return by_variant


def summarise(records: list[dict]) -> dict:
    acc = np.array([r["accuracy"] for r in records], dtype=float)
    return {
        "reproduced": round(float(acc.mean()), 2),
        "std": round(float(acc.std(ddof=1)), 2) if len(acc) > 1 else float("nan"),
        "n": len(acc),
        "runs": ";".join(sorted(r["run_dir"] for r in records)),
        "clips_train": records[0]["clips"]["train"] + records[0]["clips"]["val"],
        "clips_test": records[0]["clips"]["test"],
    }


def build_table(table: Table, metrics: dict[str, list[dict]], paper_clips: int | None):
    rows = []
    for row in table.rows:
        out = {"method": row.method, "year": row.year,
               "status": "cited" if row.cited else "reproduced"}
        for column, cell in row.cells.items():
            prefix = "" if column == SINGLE else f"{column}_"
            out[f"{prefix}reported"] = cell.reported
            summary = {"reproduced": None, "std": None, "n": 0, "runs": None}
            if cell.run is not None:
                if cell.run not in metrics:
                    raise KeyError(f"{table.key}: no metrics for run {cell.run!r}")
                summary = summarise(metrics[cell.run])
                out["clips_train"], out["clips_test"] = (
                    summary.pop("clips_train"), summary.pop("clips_test"))
            for key, value in summary.items():
                out[f"{prefix}{key}"] = value
        out["clips_paper"] = paper_clips
        rows.append(out)
    frame = pd.DataFrame(rows)
    for column in ("clips_train", "clips_test"):
        if column in frame:
            frame[column] = frame[column].astype("Int64")
    return frame
