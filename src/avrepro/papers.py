"""A paper's metafile (workflow/papers/{paper}.yaml): the tables it prints, their rows,
the numbers it reports, and the experiment (`run`, a variant name) that reproduces a row.

A table has one value column (`reported`/`run` on the row) or several (`columns:` and one
`{reported, run}` mapping per column on each row, as MAiVAR's Table 3: audio, fusion).
"""

from dataclasses import dataclass
from pathlib import Path

import yaml

from avrepro.naming import parse_variant

SINGLE = "value"  # the column name of one-column tables


@dataclass(frozen=True)
class Cell:
    reported: float | None
    run: str | None  # variant name; None for a cited result


@dataclass(frozen=True)
class Row:
    method: str
    year: int | None
    cells: dict[str, Cell]

    @property
    def cited(self) -> bool:
        return all(cell.run is None for cell in self.cells.values())


@dataclass(frozen=True)
class Table:
    key: str
    caption: str
    dataset: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]

    def variants(self) -> list[str]:
        seen = {c.run: None for r in self.rows for c in r.cells.values() if c.run}
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
        unknown = set(row) - {"method", "year", "reported", "run", *columns}
        if unknown:
            raise ValueError(f"{key} row {i}: unknown keys {sorted(unknown)}")
        rows.append(Row(method=row["method"], year=row.get("year"), cells=cells))
    return Table(key, spec["caption"], spec["dataset"], columns, tuple(rows))


def _cell(spec: dict) -> Cell:
    run = spec.get("run")
    if run is not None:
        parse_variant(run)
    reported = spec.get("reported")
    return Cell(reported=None if reported is None else float(reported), run=run)
