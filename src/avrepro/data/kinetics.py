"""Reader for the Kinetics layout (the official annotation CSVs and the downloader's tree).

    root/annotations/{train,validate,test}.csv   label,youtube_id,time_start,time_end,split
    root/{split}/{label}/{youtube_id}_{time_start:06d}_{time_end:06d}.mp4

`split` is the Kinetics split value (train, val, test). Class names keep their spaces
("playing saxophone"), in the CSVs and in the folder names. Kinetics-Sounds is this
reader's output restricted to its classes by `build_manifest`.
"""

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from avrepro.data.manifest import READER_COLUMNS, SPLITS, LayoutError

ANNOTATION_COLUMNS = ["label", "youtube_id", "time_start", "time_end", "split"]
# Kinetics split value -> its annotation file.
ANNOTATION_FILES = {"train": "train.csv", "val": "validate.csv", "test": "test.csv"}


def clip_id(youtube_id: str, time_start: int, time_end: int) -> str:
    """The clip's name as the Kinetics tools write it, e.g. ICJOBebOwfg_000110_000120."""
    return f"{youtube_id}_{int(time_start):06d}_{int(time_end):06d}"


def video_path(root: str | Path, row: Mapping) -> Path:
    """Where the clip of one annotation row lives (or will be downloaded to)."""
    name = clip_id(row["youtube_id"], row["time_start"], row["time_end"])
    return Path(root) / row["split"] / row["label"] / f"{name}.mp4"


def read_annotations(root: str | Path, kinetics_split: str) -> pd.DataFrame:
    """The annotation CSV of one Kinetics split, with integer clip times."""
    if kinetics_split not in ANNOTATION_FILES:
        raise ValueError(
            f"Kinetics split must be one of {list(ANNOTATION_FILES)}, got {kinetics_split!r}"
        )
    path = Path(root) / "annotations" / ANNOTATION_FILES[kinetics_split]
    df = pd.read_csv(path, dtype={"label": str, "youtube_id": str, "split": str})
    if list(df.columns) != ANNOTATION_COLUMNS:
        raise LayoutError(f"{path}: expected columns {ANNOTATION_COLUMNS}, got {list(df.columns)}")
    for column in ("time_start", "time_end"):
        if not pd.api.types.is_integer_dtype(df[column]):
            raise LayoutError(f"{path}: column {column} must hold whole seconds")
    wrong_split = df["split"] != kinetics_split
    if wrong_split.any():
        first = df.index[wrong_split][0]
        raise LayoutError(
            f"{path}: row {first} has split {df.at[first, 'split']!r}, expected {kinetics_split!r}"
        )
    return df


def read_kinetics(root: str | Path, splits: Mapping[str, str]) -> pd.DataFrame:
    """Clips of the chosen Kinetics splits: DataFrame(clip_id, path, label, split).

    `splits` maps our split name to a Kinetics split, e.g. {"train": "train", "test": "val"}
    (the papers test on Kinetics' validation set, whose test labels were never public).
    Paths are root-based; the files are not checked here, `build_manifest` probes them.
    """
    unknown = sorted(set(splits) - set(SPLITS))
    if unknown:
        raise ValueError(f"split names must be among {SPLITS}, got {unknown}")
    frames = []
    for split, kinetics_split in splits.items():
        annotations = read_annotations(root, kinetics_split)
        paths = [video_path(root, row) for row in annotations.to_dict("records")]
        frames.append(
            pd.DataFrame(
                {
                    "clip_id": [path.stem for path in paths],
                    "path": [str(path) for path in paths],
                    "label": annotations["label"],
                    "split": split,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)[READER_COLUMNS]
