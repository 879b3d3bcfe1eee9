"""Dataset manifests: one CSV per dataset listing every clip, its class, split and status.

Manifests, not directory scans, drive every later stage (DESIGN.md). A clip that is
missing, empty, corrupt or has no video is a row with a status and a reason, never a
crash; `coverage` counts what is usable so tables can report it.
"""

import functools
import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jsonschema
import pandas as pd
import yaml
from tqdm import tqdm

from avrepro.media.probe import clip_status

COLUMNS = [
    "clip_id",
    "path",
    "label",
    "label_index",
    "split",
    "duration",
    "has_audio",
    "status",
    "reason",
]
READER_COLUMNS = ["clip_id", "path", "label", "split"]
SPLITS = ("train", "test")

# The schema lives with the workflow's other schemas so that Snakemake rules and this
# module check manifests against the same file; src/avrepro/data/ -> repository root.
SCHEMA_PATH = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "manifest.schema.yaml"


class ManifestError(ValueError):
    """A manifest (or the rows it is built from) that breaks the manifest schema."""


class LayoutError(ValueError):
    """A dataset's on-disk files (split lists, annotation CSVs) are not in the expected format."""


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    with open(SCHEMA_PATH) as file:
        return jsonschema.Draft202012Validator(yaml.safe_load(file))


def concat_split_lists(frames: list[pd.DataFrame], source: str | Path, lists) -> pd.DataFrame:
    """A reader's per-split tables as one, refusing a clip that two split lists both name."""
    df = pd.concat(frames, ignore_index=True)
    repeated = df["clip_id"][df["clip_id"].duplicated()]
    if not repeated.empty:
        raise LayoutError(
            f"{source}: clips listed twice across {list(lists)}: {sorted(set(repeated))[:5]}"
        )
    return df


def validate_manifest(df: pd.DataFrame, source: str | Path) -> None:
    """Raise ManifestError naming `source`, the row and the column of the first bad value."""
    missing = [column for column in COLUMNS if column not in df.columns]
    unexpected = [column for column in df.columns if column not in COLUMNS]
    if missing or unexpected:
        raise ManifestError(f"{source}: missing columns {missing}, unexpected columns {unexpected}")

    # JSON schema types are Python types: object dtype turns numpy scalars into int,
    # float and bool, and NaN (an unknown duration) into None, i.e. JSON null.
    records = df[COLUMNS].astype(object).where(df[COLUMNS].notna(), None).to_dict("records")
    validator = _validator()
    for row_number, record in enumerate(records):
        errors = list(validator.iter_errors(record))
        if errors:
            details = "; ".join(
                f"column {'/'.join(map(str, error.path)) or '?'}: {error.message}"
                for error in errors
            )
            raise ManifestError(
                f"{source}: row {row_number} (clip_id {record['clip_id']!r}): {details}"
            )

    duplicated = df["clip_id"][df["clip_id"].duplicated()]
    if not duplicated.empty:
        raise ManifestError(f"{source}: duplicate clip_id {sorted(set(duplicated))[:5]}")


def write_manifest(df: pd.DataFrame, path: str | Path) -> None:
    """Validate `df` and write it as CSV (columns in COLUMNS order) atomically."""
    path = Path(path)
    validate_manifest(df, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write next to the target and rename: a killed job leaves no half-written manifest.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", newline="") as file:
            df[COLUMNS].to_csv(file, index=False)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _parsed(text: str, parse: Callable[[str], object]) -> object:
    """`text` as a typed value; None when empty; unchanged when it does not parse, so that
    validation reports the bad cell itself."""
    if text == "":
        return None
    try:
        return parse(text)
    except (ValueError, KeyError):
        return text


def _boolean(text: str) -> bool:
    return {"True": True, "False": False}[text]  # as pandas writes booleans


_PARSERS = {"label_index": int, "duration": float, "has_audio": _boolean}
_DTYPES = {"label_index": int, "duration": float, "has_audio": bool}


def read_manifest(path: str | Path) -> pd.DataFrame:
    """Read and validate a manifest written by `write_manifest`."""
    path = Path(path)
    try:
        # All text first: pandas would turn a column with one bad number into text
        # throughout, and the error would then point at the first row, not the bad one.
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ManifestError(f"{path}: not a readable CSV: {error}") from error
    for column, parse in _PARSERS.items():
        if column in df.columns:
            df[column] = [_parsed(text, parse) for text in df[column]]
    validate_manifest(df, path)
    return df.astype(_DTYPES)


def build_manifest(
    rows: pd.DataFrame, classes: Sequence[str], probe_workers: int = 8
) -> pd.DataFrame:
    """Keep the configured classes of a reader's rows and probe every clip.

    rows: (clip_id, path, label, split) from a dataset reader. classes: the class list
    from config; its order gives label_index. Every configured class must occur in
    `rows`: a class with no clips is a misspelt name (UCF101 spells the folder
    HandstandPushups and its files HandStandPushups), not an empty class.
    Probing runs ffmpeg per file, which waits on disk and on a subprocess, so threads
    overlap it well.
    """
    if len(set(classes)) != len(classes):
        raise ManifestError(f"class list has duplicates: {list(classes)}")
    missing_columns = [column for column in READER_COLUMNS if column not in rows.columns]
    if missing_columns:
        raise ManifestError(f"reader rows lack columns {missing_columns}")
    absent = sorted(set(classes) - set(rows["label"]))
    if absent:
        raise ManifestError(f"configured classes with no clips in the dataset: {absent}")

    index_of = {label: index for index, label in enumerate(classes)}
    kept = rows.loc[rows["label"].isin(index_of), READER_COLUMNS].reset_index(drop=True)
    kept["label_index"] = kept["label"].map(index_of).astype(int)

    with ThreadPoolExecutor(max_workers=probe_workers) as pool:
        results = list(
            tqdm(pool.map(clip_status, kept["path"]), total=len(kept), desc="probe clips")
        )
    # probe is None only for statuses where nothing could be read.
    kept["duration"] = [probe.duration if probe else None for _, probe, _ in results]
    kept["duration"] = kept["duration"].astype(float)
    kept["has_audio"] = [bool(probe and probe.has_audio) for _, probe, _ in results]
    kept["status"] = [status for status, _, _ in results]
    kept["reason"] = [reason for _, _, reason in results]
    return kept[COLUMNS]


def shard_rows(df: pd.DataFrame, i: int, n: int) -> pd.DataFrame:
    """Shard `i` of `n`: the rows at positions p with p % n == i (index kept)."""
    if not 0 <= i < n:
        raise ValueError(f"shard index {i} is not in 0..{n - 1}")
    return df.iloc[i::n]


def coverage(df: pd.DataFrame) -> pd.DataFrame:
    """Per split: clips listed, usable (status ok), and usable with an audio track."""
    usable = df["status"] == "ok"
    counts = pd.DataFrame(
        {
            "split": df["split"],
            "listed": 1,
            "usable": usable.astype(int),
            "with_audio": (usable & df["has_audio"].astype(bool)).astype(int),
        }
    )
    totals = counts.groupby("split", sort=False).sum()
    order = [split for split in SPLITS if split in totals.index]
    return totals.loc[order].reset_index()
