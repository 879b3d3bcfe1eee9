"""Build a paper's table: its reported numbers beside ours, from metrics files only.

Reported values come from the metafile; reproduced values are the mean and sample standard
deviation of the runs' metric (test accuracy, or one class's accuracy) over seeds, and
over datasets where a column averages several (UCF101's splits), with n and the run
folders they come from. A reported number never flows into a reproduced cell.
"""

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from avrepro.papers import RUN_SEPARATOR, SINGLE, Table, metric_value

Runs = dict[tuple[str, str], list[dict]]  # (dataset, variant) -> one record per seed


def load_metrics(paths: Iterable[Path], paper: str | None = None) -> Runs:
    """Metrics files grouped by (dataset, run), read off their run folders
    (results/{paper}/{dataset}/{variant}/seed{seed}/metrics.json); each record remembers
    its folder. run is the variant, or "{paper}/{variant}" for a run of another paper
    than `paper` (a metafile cell's `run`); paper None: every run is the table's own."""
    runs: Runs = {}
    for path in map(Path, paths):
        metrics = json.loads(path.read_text())
        metrics["run_dir"] = str(path.parent)
        variant_dir = path.parent.parent
        dataset, owner = variant_dir.parent.name, variant_dir.parent.parent.name
        variant = variant_dir.name
        if metrics["variant"] != variant:
            raise ValueError(f"{path}: holds variant {metrics['variant']!r}, not {variant!r}")
        run = variant if paper is None or owner == paper else f"{owner}{RUN_SEPARATOR}{variant}"
        runs.setdefault((dataset, run), []).append(metrics)
    return runs


def summarise(records: list[dict], metric: str) -> dict:
    values = [metric_value(r, metric) for r in records]
    values = np.array([v for v in values if v is not None], dtype=float)
    return {
        "reproduced": round(float(values.mean()), 2) if len(values) else None,
        "std": round(float(values.std(ddof=1)), 2) if len(values) > 1 else float("nan"),
        "n": len(values),
        "runs": ";".join(sorted(r["run_dir"] for r in records)),
    }


def clips_used(records: list[dict]) -> tuple[int | None, int]:
    """(train + validation, test) clips of the runs of one cell, per run (the mean over
    datasets when a cell averages several); train is None for runs that train nothing
    (late fusions of other runs)."""
    train = [r["clips"]["train"] + r["clips"].get("val", 0) for r in records
             if "train" in r["clips"]]
    test = [r["clips"]["test"] for r in records]
    return (round(float(np.mean(train))) if train else None), round(float(np.mean(test)))


def build_table(table: Table, metrics: Runs, paper_clips: dict[str, int | None]) -> pd.DataFrame:
    """One row per metafile row: reported, reproduced, std, n and runs per column, and the
    clips the runs used beside the paper's count (per column where columns differ in
    dataset). paper_clips: dataset -> the clips the paper states."""
    per_column_clips = len(set(table.datasets.values())) > 1
    rows = []
    for row in table.rows:
        out = {"method": row.method, "year": row.year,
               "status": "cited" if row.cited else "reproduced"}
        for column, cell in row.cells.items():
            prefix = "" if column == SINGLE else f"{column}_"
            clips_prefix = prefix if per_column_clips else ""
            out[f"{prefix}reported"] = cell.reported
            summary = {"reproduced": None, "std": None, "n": 0, "runs": None}
            if cell.run is not None:
                records = []
                for dataset in table.datasets[column]:
                    if (dataset, cell.run) not in metrics:
                        raise KeyError(f"{table.key}: no metrics for run {cell.run!r} on {dataset}")
                    records += metrics[dataset, cell.run]
                summary = summarise(records, table.metric(row, column))
                train, test = clips_used(records)
                out[f"{clips_prefix}clips_train"], out[f"{clips_prefix}clips_test"] = train, test
            for key, value in summary.items():
                out[f"{prefix}{key}"] = value
            if per_column_clips:
                out[f"{prefix}clips_paper"] = paper_clips.get(table.datasets[column][0])
        if not per_column_clips:
            out["clips_paper"] = paper_clips.get(table.datasets[table.columns[0]][0])
        rows.append(out)
    frame = pd.DataFrame(rows)
    for column in frame.columns:
        if column == "year" or column.endswith(("clips_train", "clips_test")):
            frame[column] = frame[column].astype("Int64")  # a row without one stays blank
    return frame


def build_count_table(table: Table, counts: pd.DataFrame) -> pd.DataFrame:
    """A sound_counts table: per row and column (a split), the paper's count beside ours.

    counts: avrepro.data.sound_counts's table, one row per split; a row's `metric` names
    the count it shows. A reported count never flows into a counted cell.
    """
    by_split = counts.set_index("split")
    rows = []
    for row in table.rows:
        out = {"method": row.method}
        for column, cell in row.cells.items():
            out[f"{column}_reported"] = None if cell.reported is None else int(cell.reported)
            out[f"{column}_counted"] = int(by_split.loc[column, row.metric])
        rows.append(out)
    frame = pd.DataFrame(rows)
    reported = [c for c in frame.columns if c.endswith("_reported")]
    frame[reported] = frame[reported].astype("Int64")
    return frame


def per_class_gain(better: list[dict], worse: list[dict]) -> pd.Series:
    """Per-class top-1 accuracy of `better` minus `worse` (percentage points), each the mean
    over its seeds; classes a run's test split lacks are left out."""
    def mean(records: list[dict]) -> pd.Series:
        return pd.DataFrame([r["per_class"] for r in records]).astype(float).mean()

    return (mean(better) - mean(worse)).dropna()


def build_improvement_table(table: Table, metrics: Runs) -> pd.DataFrame:
    """An improved_classes table: for each comparison, the `top` classes that gain most,
    ours beside the paper's, with each gain and the runs it comes from. Ties rank by
    class name, so the table is the same on every run."""
    rows = [{"rank": rank + 1} for rank in range(table.top)]
    for column, comparison in table.comparisons.items():
        dataset = table.datasets[column][0]
        better, worse = (metrics[dataset, comparison.better], metrics[dataset, comparison.worse])
        gain = per_class_gain(better, worse)
        ranked = sorted(gain.items(), key=lambda item: (-item[1], item[0]))[: table.top]
        runs = ";".join(sorted(r["run_dir"] for r in better + worse))
        for rank, row in enumerate(rows):
            reported = comparison.reported
            row[f"{column} reported"] = reported[rank] if rank < len(reported) else None
            label, points = ranked[rank] if rank < len(ranked) else (None, None)
            row[f"{column} reproduced"] = label
            row[f"{column} gain"] = None if points is None else round(points, 2)
            row[f"{column} runs"] = runs
    return pd.DataFrame(rows)


def build_savld_table(table: Table, dictionary: pd.DataFrame) -> pd.DataFrame:
    """A savld table (IMD's Table 1): per video label the paper prints, our dictionary's
    first `top` audio labels beside the paper's, both normalised as the paper prints them,
    and how many they share (overlap_at_{top})."""
    from avrepro.savld import compare_table1

    return compare_table1(dictionary, table.labels, k=table.top)
