"""A paper's metafile (workflow/papers/{paper}.yaml): the tables it prints, their rows,
the numbers it reports, and the experiment (`run`, a variant name) that reproduces a row.

A table has one value column (`reported`/`run` on the row) or several (`columns:` and one
`{reported, run}` mapping per column on each row, as MAiVAR's Table 3: audio, fusion).
Its runs use one `dataset:`, or, with `datasets: {column: dataset}`, one dataset per
column (MAFnet's Table 1: AVE, UCF51, Kinetics-Sounds side by side). A column may name a
list of datasets, whose runs it averages: UCF51's three splits, as MAFnet reports them.
A row reads its runs' `accuracy` unless it names another `metric:`: `top5` (top-5
accuracy), or `per_class.{label}`, one class's accuracy (two-phase Table I: a row per
scene, a column per fusion). A table's `column_metrics: {column: metric}` sets the metric
per column instead (Lee et al.'s tables: top-1 and top-5 of the same runs).

Tables of other kinds (`kind:`) are built from other files than run metrics:
- `sound_counts`: clip counts per split from the manifest and the audio index (a row's
  `metric` names a column of avrepro.data.sound_counts; Lee et al.'s Table 1);
- `improved_classes`: the `top` classes whose accuracy gains most from one run to another,
  one column per comparison `{better, worse, reported: [classes]}` (Lee et al.'s Table 5);
- `savld`: a label dictionary's `top` nearest audio labels for some video labels, beside the
  paper's (`labels: {video label: [audio labels]}`; IMD's Table 1), read from the
  dictionary the workflow built (avrepro.savld).

A run's metrics.json may also hold `gflops` (its test-time compute, IMD's Table 6), which a
column reads with `column_metrics: {column: gflops}`.
"""

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from avrepro.naming import parse_variant

# The suite's papers: their metafiles are workflow/papers/{paper}.yaml, their runs
# results/{paper}/{dataset}/{variant}/.
PAPERS = ("maivar", "mafnet", "twophase", "audiogen", "imd")
RUN_SEPARATOR = "/"  # in a cell's run: "{paper}/{variant}", another paper's run
SINGLE = "value"  # the column name of one-column tables
ACCURACY = "accuracy"
TOP5 = "top5"
GFLOPS = "gflops"
RUN_METRICS = (ACCURACY, TOP5, GFLOPS)  # what a run's metrics.json holds as one number
RUNS, SOUND_COUNTS, IMPROVED_CLASSES, SAVLD = "runs", "sound_counts", "improved_classes", "savld"
PER_CLASS = "per_class."  # prefix of a class's accuracy: per_class.{label} in metrics.json


@dataclass(frozen=True)
class Cell:
    reported: float | None
    # The run reproducing the cell: a variant of the table's paper, or "{paper}/{variant}",
    # a run of another paper of the suite on the table's dataset (MAiVAR's Table 1 cites
    # MAFnet's Attention Cluster, which MAFnet's rules train); None for a cited result.
    run: str | None


def run_reference(run: str, paper: str) -> tuple[str, str]:
    """(paper, variant) of a cell's `run` in a table of `paper`."""
    owner, _, variant = run.rpartition(RUN_SEPARATOR)
    return owner or paper, variant


@dataclass(frozen=True)
class Row:
    method: str
    year: int | None
    cells: dict[str, Cell]
    metric: str = ACCURACY  # what the row reads from its runs' metrics.json

    @property
    def cited(self) -> bool:
        return all(cell.run is None for cell in self.cells.values())


@dataclass(frozen=True)
class Comparison:
    """An improved_classes column: classes ranked by accuracy of `better` minus `worse`."""

    better: str
    worse: str
    reported: tuple[str, ...]  # the paper's top classes, best first


@dataclass(frozen=True)
class Table:
    key: str
    caption: str
    datasets: dict[str, tuple[str, ...]]  # column -> the datasets its runs average over
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    kind: str = RUNS
    column_metrics: dict[str, str] = field(default_factory=dict)
    comparisons: dict[str, Comparison] = field(default_factory=dict)  # improved_classes
    top: int = 3  # improved_classes: classes per column; savld: neighbours per label
    labels: dict[str, tuple[str, ...]] = field(default_factory=dict)  # savld: the paper's

    def metric(self, row: Row, column: str) -> str:
        """What a cell reads from its runs' metrics.json."""
        return self.column_metrics.get(column, row.metric)

    @property
    def dataset(self) -> str:
        """The dataset of a table whose columns share one."""
        names = {name for names in self.datasets.values() for name in names}
        if len(names) != 1:
            raise ValueError(f"{self.key} has one dataset per column {self.datasets}: use runs()")
        return names.pop()

    def variants(self) -> list[str]:
        """The table's paper's own variants it reads (not other papers' runs)."""
        return list({run: None for _, run in self.runs() if RUN_SEPARATOR not in run})

    def runs(self) -> list[tuple[str, str]]:
        """(dataset, variant) of every run the table reads, once each, in row order."""
        if self.kind == SAVLD:
            return []
        if self.kind == IMPROVED_CLASSES:
            return list({(self.datasets[column][0], run): None
                         for column, c in self.comparisons.items() for run in (c.better, c.worse)})
        seen = {(dataset, cell.run): None
                for r in self.rows for column, cell in r.cells.items() if cell.run
                for dataset in self.datasets[column]}
        return list(seen)


@dataclass(frozen=True)
class Metafile:
    paper: str
    title: str
    datasets: dict[str, dict]  # dataset -> the counts the paper prints: clips, train, test
    tables: dict[str, Table]

    def clips(self, dataset: str) -> int | None:
        """The clips the paper says `dataset` has: its `clips`, else train + test where
        it prints those, else None."""
        counts = self.datasets.get(dataset, {})
        if counts.get("clips") is not None:
            return counts["clips"]
        if counts.get("train") is not None and counts.get("test") is not None:
            return counts["train"] + counts["test"]
        return None


class MetafileError(ValueError):
    pass


def load_metafile(path: Path) -> Metafile:
    data = yaml.safe_load(Path(path).read_text())
    try:
        tables = {key: _table(key, spec) for key, spec in data["tables"].items()}
        return Metafile(data["paper"], data["title"], data.get("datasets", {}), tables)
    except (KeyError, TypeError, ValueError) as err:
        raise MetafileError(f"{path}: {err}") from err


def _table(key: str, spec: dict) -> Table:
    kind = spec.get("kind", RUNS)
    if kind not in (RUNS, SOUND_COUNTS, IMPROVED_CLASSES, SAVLD):
        raise ValueError(f"{key}: kind {kind!r} is not one of {RUNS}, {SOUND_COUNTS}, "
                         f"{IMPROVED_CLASSES}, {SAVLD}")
    if kind == IMPROVED_CLASSES:
        return _comparison_table(key, spec)
    if kind == SAVLD:
        labels = {label: tuple(audio) for label, audio in spec["labels"].items()}
        return Table(key, spec["caption"], {SINGLE: _names(spec["dataset"])}, (SINGLE,), (),
                     kind=SAVLD, top=int(spec.get("top", 5)), labels=labels)
    columns = tuple(spec.get("columns", [SINGLE]))
    column_metrics = dict(spec.get("column_metrics", {}))
    unknown_columns = set(column_metrics) - set(columns)
    if unknown_columns:
        raise ValueError(f"{key}: column_metrics names unknown columns {sorted(unknown_columns)}")
    rows = []
    for i, row in enumerate(spec["rows"]):
        if columns == (SINGLE,):
            cells = {SINGLE: _cell(row)}
        else:
            cells = {c: _cell(row[c]) for c in columns}
        unknown = set(row) - {"method", "year", "reported", "run", "metric", *columns}
        if unknown:
            raise ValueError(f"{key} row {i}: unknown keys {sorted(unknown)}")
        metric = row.get("metric", ACCURACY)
        if kind == RUNS:
            for checked in {column_metrics.get(c, metric) for c in columns}:
                _check_metric(checked, f"{key} row {i}")
        rows.append(Row(method=row["method"], year=row.get("year"), cells=cells, metric=metric))
    return Table(key, spec["caption"], _datasets(key, spec, columns), columns, tuple(rows),
                 kind=kind, column_metrics=column_metrics)


def _comparison_table(key: str, spec: dict) -> Table:
    comparisons = {}
    for column, c in spec["columns"].items():
        parse_variant(c["better"]), parse_variant(c["worse"])
        comparisons[column] = Comparison(c["better"], c["worse"], tuple(c.get("reported", ())))
    columns = tuple(comparisons)
    return Table(key, spec["caption"], _datasets(key, spec, columns), columns, (),
                 kind=IMPROVED_CLASSES, comparisons=comparisons, top=int(spec.get("top", 3)))


def _check_metric(metric: str, where: str) -> None:
    if metric in RUN_METRICS or (metric.startswith(PER_CLASS) and metric != PER_CLASS):
        return
    raise ValueError(f"{where}: metric {metric!r} is neither one of {RUN_METRICS} "
                     f"nor '{PER_CLASS}LABEL'")


def _datasets(key: str, spec: dict, columns: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    if "datasets" in spec:
        missing = [c for c in columns if c not in spec["datasets"]]
        if missing:
            raise ValueError(f"{key}: columns {missing} have no entry under datasets")
        return {c: _names(spec["datasets"][c]) for c in columns}
    return dict.fromkeys(columns, _names(spec["dataset"]))


def _names(datasets: str | list[str]) -> tuple[str, ...]:
    return (datasets,) if isinstance(datasets, str) else tuple(datasets)


def _cell(spec: dict) -> Cell:
    run = spec.get("run")
    if run is not None:
        owner, _, variant = run.rpartition(RUN_SEPARATOR)
        if owner and owner not in PAPERS:
            raise ValueError(f"run {run!r}: {owner!r} is not one of the papers {PAPERS}")
        parse_variant(variant)
    reported = spec.get("reported")
    return Cell(reported=None if reported is None else float(reported), run=run)


def metric_value(metrics: dict, metric: str) -> float | None:
    """A row's `metric` from one run's metrics.json: None for a class the run's dataset
    does not have (a smoke tier's subset of the scenes) or its test split lacks.

    Raises KeyError naming the metric when the run did not record it.
    """
    if metric in RUN_METRICS:
        if metric not in metrics:
            raise KeyError(f"metrics of {metrics.get('variant')!r} have no {metric!r}")
        return metrics[metric]
    label = metric[len(PER_CLASS) :]
    if label not in metrics.get("classes", [label]):
        return None
    per_class = metrics.get("per_class", {})
    if label not in per_class:
        raise KeyError(f"metrics of {metrics.get('variant')!r} have no {metric!r}; "
                       f"classes: {sorted(per_class)}")
    return per_class[label]
