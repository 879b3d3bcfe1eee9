"""Class-label lists of the datasets IMD's label dictionary (SAVLD, paper §3.1) maps between.

    AudioSet   class_labels_indices.csv   index,mid,display_name  ("Male speech, man speaking"
                                           is quoted: display names may hold commas)
    any        a clip manifest            its distinct `label` values
                                          (Kinetics-400's 400: avrepro.savld.kinetics400_labels)

Every reader returns the labels in the dataset's own spelling and class order; the text the
embedders see is derived from them by avrepro.savld.normalise_label.
"""

import csv
import re
from pathlib import Path

import pandas as pd

from avrepro.data.manifest import LayoutError

AUDIOSET_COLUMNS = ["index", "mid", "display_name"]
AUDIOSET_CLASSES = 527  # the ontology's labelled classes, as AST's head predicts them


def read_audioset_labels(path: str | Path, expected: int | None = AUDIOSET_CLASSES) -> list[str]:
    """AudioSet's display names in class-index order (index 0 first).

    expected: the number of classes the file must hold (None: any). Raises LayoutError naming
    the file and line for a wrong header, a row without three fields, indexes that are not
    0, 1, 2, ... in order, or a wrong class count: AST's output column i is class index i, so
    a reordered or truncated file would silently mislabel every prediction.
    """
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    if not rows or rows[0] != AUDIOSET_COLUMNS:
        header = rows[0] if rows else "nothing"
        raise LayoutError(f"{path}: expected the header {','.join(AUDIOSET_COLUMNS)}, got {header}")
    names = []
    for number, row in enumerate(rows[1:], 2):
        if not row:
            continue
        if len(row) != 3 or not row[2].strip():
            raise LayoutError(f"{path}:{number}: expected 'index,mid,\"display name\"', got {row}")
        if row[0] != str(len(names)):
            raise LayoutError(f"{path}:{number}: expected class index {len(names)}, got {row[0]!r}")
        names.append(row[2].strip())
    if expected is not None and len(names) != expected:
        raise LayoutError(f"{path}: expected {expected} classes, found {len(names)}")
    return names


def read_manifest_labels(path: str | Path) -> list[str]:
    """The classes a clip manifest (avrepro.data.manifest) holds: its distinct labels, sorted
    (Kinetics' own class order; a dictionary's readers look labels up by name)."""
    labels = pd.read_csv(path, usecols=["label"], dtype=str, keep_default_na=False)["label"]
    if labels.empty:
        raise LayoutError(f"{path}: the manifest holds no clip")
    return sorted(labels.unique())


def split_camel_case(name: str) -> str:
    """UCF101's CamelCase class names as words: "ApplyEyeMakeup" -> "Apply Eye Makeup".

    Splits only where a lower-case letter meets an upper-case one, so spaced labels and
    acronyms ("UK garage") are left as they are.
    """
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)
