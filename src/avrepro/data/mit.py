"""Reader for Moments in Time, mini track, as Moments_in_Time_Mini.zip unpacks.

    root/training/{label}/{file}.mp4         100,000 clips of 3 s, 500 per class
    root/validation/{label}/{file}.mp4       10,000 clips, 50 per class
    root/trainingSet.csv, validationSet.csv  "label/file.mp4,label,positive,negative"
    root/moments_categories.txt              "label,index", 200 classes, 0-based

The CSVs have no header (mmaction2's `parse_mit_splits` reads every row); the last two
fields count the annotators who agreed and disagreed. About 44% of the clips have no
audio track (Lee et al., Table 1), which the manifest records as `has_audio`.
The test set's labels were never released, so validation is the test split, as in Lee
et al. ("Training" / "validation" columns of their Table 1).
"""

import csv
from pathlib import Path, PurePosixPath

import pandas as pd

from avrepro.data.manifest import READER_COLUMNS, LayoutError

CATEGORIES_FILE = "moments_categories.txt"
# Our split name -> (the dataset's list file, its video folder).
SPLITS = {"train": ("trainingSet.csv", "training"), "test": ("validationSet.csv", "validation")}


def clip_id(label: str, file_name: str) -> str:
    """A file-name-safe id: "bicycling__yt-abc_45" for "bicycling/yt-abc_45.mp4".

    File names are unique within a class folder only, so the class is part of the id.
    """
    return f"{label}__{PurePosixPath(file_name).stem}"


def read_categories(path: str | Path) -> dict[str, int]:
    """moments_categories.txt as {label: 0-based index}."""
    path = Path(path)
    categories = {}
    with open(path, newline="") as file:
        for number, fields in enumerate(csv.reader(file), 1):
            if not fields:
                continue
            if len(fields) != 2 or not fields[1].strip().isdigit():
                raise LayoutError(f"{path}:{number}: expected 'LABEL,INDEX', got {fields!r}")
            categories[fields[0]] = int(fields[1])
    return categories


def _read_list(path: Path, folder: Path, categories: dict[str, int], split: str) -> list[tuple]:
    rows = []
    with open(path, newline="") as file:
        for number, fields in enumerate(csv.reader(file), 1):
            if not fields:
                continue
            relative = PurePosixPath(fields[0])
            if len(fields) < 2 or len(relative.parts) != 2 or relative.suffix != ".mp4":
                raise LayoutError(
                    f"{path}:{number}: expected 'LABEL/FILE.mp4,LABEL,...', got {fields!r}"
                )
            label = fields[1]
            if relative.parts[0] != label:
                raise LayoutError(f"{path}:{number}: {fields[0]!r} is not in folder {label!r}")
            if label not in categories:
                raise LayoutError(f"{path}:{number}: class {label!r} is not in {CATEGORIES_FILE}")
            rows.append((clip_id(label, relative.name), str(folder / relative), label, split))
    return rows


def read_mit(root: str | Path) -> pd.DataFrame:
    """Moments in Time mini: DataFrame(clip_id, path, label, split), split train/test.

    Train rows come first, then test rows, each in list order. Paths are root-based;
    the files are not checked here, `build_manifest` probes them.
    """
    root = Path(root)
    categories = read_categories(root / CATEGORIES_FILE)
    rows = []
    for split, (list_name, folder) in SPLITS.items():
        rows += _read_list(root / list_name, root / folder, categories, split)
    return pd.DataFrame(rows, columns=READER_COLUMNS)
