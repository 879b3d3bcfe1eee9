"""A paper's metafile (workflow/papers/{paper}.yaml): the tables it prints, their rows,
the numbers it reports, and the experiment (`run`, a variant name) that reproduces a row.

A table has one value column (`reported`/`run` on the row) or several (`columns:` and one
`{reported, run}` mapping per column on each row, as MAiVAR's Table 3: audio, fusion).
Its runs use one `dataset:`, or, with `datasets: {column: dataset}`, one dataset per
column (MAFnet's Table 1: AVE, UCF51, Kinetics-Sounds side by side). A column may name a
list of datasets, whose runs it averages: UCF51's three splits, as MAFnet reports them.
A row reads its runs' `accuracy` unless it names another `metric:`; `per_class.{label}`
reads one class's accuracy (two-phase Table I: a row per scene, a column per fusion).
"""

from dataclasses import dataclass
from pathlib import Path

import yaml

from avrepro.naming import parse_variant

SINGLE = "value"  # the column name of one-column tables
ACCURACY = "accuracy"
PER_CLASS = "per_class."  # prefix of a class's accuracy: per_class.{label} in metrics.json


@dataclass(frozen=True)
class Cell:
    reported: float | None
    run: str | None  # variant name; None for a cited result


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
class Table:
    key: str
    caption: str
    datasets: dict[str, tuple[str, ...]]  # column -> the datasets its runs average over
    columns: tuple[str, ...]
    rows: tuple[Row, ...]

    @property
    def dataset(self) -> str:
        """The dataset of a table whose columns share one."""
        names = {name for names in self.datasets.values() for name in names}
        if len(names) != 1:
            raise ValueError(f"{self.key} has one dataset per column {self.datasets}: use runs()")
        return names.pop()

    def variants(self) -> list[str]:
        seen = {c.run: None for r in self.rows for c in r.cells.values() if c.run}
        return list(seen)

    def runs(self) -> list[tuple[str, str]]:
        """(dataset, variant) of every run the table reads, once each, in row order."""
        seen = {(dataset, cell.run): None
                for r in self.rows for column, cell in r.cells.items() if cell.run
                for dataset in self.datasets[column]}
        return list(seen)


@dataclass(frozen=True)
class Metafile:
    paper: str
    title: str
    datasets: dict[str, dict]
    tables: dict[str, Table]


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
    columns = tuple(spec.get("columns", [SINGLE]))
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
        if metric != ACCURACY and not (metric.startswith(PER_CLASS) and metric != PER_CLASS):
            raise ValueError(f"{key} row {i}: metric {metric!r} is neither {ACCURACY!r} "
                             f"nor '{PER_CLASS}LABEL'")
        rows.append(Row(method=row["method"], year=row.get("year"), cells=cells, metric=metric))
    if "datasets" in spec:
        missing = [c for c in columns if c not in spec["datasets"]]
        if missing:
            raise ValueError(f"{key}: columns {missing} have no entry under datasets")
        datasets = {c: _names(spec["datasets"][c]) for c in columns}
    else:
        datasets = dict.fromkeys(columns, _names(spec["dataset"]))
    return Table(key, spec["caption"], datasets, columns, tuple(rows))


def _names(datasets: str | list[str]) -> tuple[str, ...]:
    return (datasets,) if isinstance(datasets, str) else tuple(datasets)


def _cell(spec: dict) -> Cell:
    run = spec.get("run")
    if run is not None:
        parse_variant(run)
    reported = spec.get("reported")
    return Cell(reported=None if reported is None else float(reported), run=run)


def metric_value(metrics: dict, metric: str) -> float | None:
    """A row's `metric` from one run's metrics.json: None for a class the run's dataset
    does not have (a smoke tier's subset of the scenes) or its test split lacks.

    Raises KeyError naming the metric when the run did not record it.
    """
    if metric == ACCURACY:
        return metrics[ACCURACY]
    label = metric[len(PER_CLASS) :]
    if label not in metrics.get("classes", [label]):
        return None
    per_class = metrics.get("per_class", {})
    if label not in per_class:
        raise KeyError(f"metrics of {metrics.get('variant')!r} have no {metric!r}; "
                       f"classes: {sorted(per_class)}")
    return per_class[label]
