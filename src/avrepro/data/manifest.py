"""Dataset manifests: one CSV per dataset listing every clip, its class, split and status.

Manifests, not directory scans, drive every later stage (DESIGN.md). A clip that is
missing, empty, corrupt or has no video is a row with a status and a reason, never a
crash; `avrepro.data.coverage` counts what is usable so tables can report it.

workflow/schemas/manifest.schema.yaml says what a valid row is. It is checked column by
column here (`violations`), with vectorised pandas operations rather than one jsonschema
call per row, which took about 25 s per 250,000 rows. The checks are read from the
schema file, and tests/unit/test_manifest.py checks that they flag exactly what
jsonschema flags, with the same messages.
"""

import functools
import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from tqdm import tqdm

from avrepro.media.probe import MediaError, clip_status, probe

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
# Written after COLUMNS when a dataset has them: audio_path for datasets whose sound is a
# file of its own (DCASE's WAVs) rather than the video's audio track.
OPTIONAL_COLUMNS = ["audio_path"]
READER_COLUMNS = ["clip_id", "path", "label", "split"]
SPLITS = ("train", "val", "test")  # the schema's split names, in reading order

# The schema lives with the workflow's other schemas so that Snakemake rules and this
# module check manifests against the same file; src/avrepro/data/ -> repository root.
SCHEMA_PATH = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "manifest.schema.yaml"


class ManifestError(ValueError):
    """A manifest (or the rows it is built from) that breaks the manifest schema."""


class LayoutError(ValueError):
    """A dataset's on-disk files (split lists, annotation CSVs) are not in the expected format."""


# --- the schema, checked column-wise ---

# The keywords the column-wise checks implement; a schema using any other is refused, so
# that no rule of the schema can go unchecked.
_TOP_KEYWORDS = {
    "$schema",
    "description",
    "type",
    "additionalProperties",
    "required",
    "properties",
    "if",
    "then",
    "else",
}
_BRANCH_KEYWORDS = {"properties"}
_VALUE_KEYWORDS = {"type", "enum", "const", "minimum", "minLength", "description"}
# JSON types -> the value kinds (`_kinds`) they accept; an integral float is an integer,
# as in JSON Schema.
_ACCEPTED_KINDS = {
    "string": {"string"},
    "integer": {"integer"},
    "number": {"integer", "number"},
    "boolean": {"boolean"},
    "null": {"null"},
}


def _checked_schema(schema: dict) -> dict:
    def check(rule: dict, allowed: set[str], where: str) -> None:
        unknown = sorted(set(rule) - allowed)
        if unknown:
            raise ValueError(
                f"{SCHEMA_PATH}: {where} uses {unknown}, which the column-wise manifest "
                "checks (avrepro.data.manifest) do not implement"
            )

    check(schema, _TOP_KEYWORDS, "the top level")
    if schema.get("type", "object") != "object" or schema.get("additionalProperties") is not False:
        raise ValueError(f"{SCHEMA_PATH}: rows must be objects with additionalProperties: false")
    for branch in ("if", "then", "else"):
        check(schema.get(branch, {}), _BRANCH_KEYWORDS, branch)
    for part in (schema, schema.get("if", {}), schema.get("then", {}), schema.get("else", {})):
        for column, rule in part.get("properties", {}).items():
            check(rule, _VALUE_KEYWORDS, f"property {column!r}")
            # Text only: a text test guards the enum and const checks (`_value_failures`).
            texts = [*rule.get("enum", []), *([rule["const"]] if "const" in rule else [])]
            if not all(isinstance(text, str) for text in texts):
                raise ValueError(f"{SCHEMA_PATH}: property {column!r}: enum and const must be text")
    return schema


@functools.cache
def manifest_schema() -> dict:
    """manifest.schema.yaml, refused if it uses a rule that `violations` does not check."""
    with open(SCHEMA_PATH) as file:
        return _checked_schema(yaml.safe_load(file))


def _kind(value: object) -> str:
    """The JSON kind of one value: string, integer, number, boolean, null or other."""
    if value is None or value is pd.NA:
        return "null"
    if isinstance(value, (bool, np.bool_)):
        return "boolean"
    if isinstance(value, (int, np.integer)):
        return "integer"
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return "null"
        return "integer" if float(value).is_integer() else "number"
    return "string" if isinstance(value, str) else "other"


def _kinds(values: pd.Series) -> np.ndarray:
    """`_kind` of every value, without a Python call per value for typed columns.

    NaN and NA are null, as in the JSON a manifest row stands for.
    """
    dtype, missing = values.dtype, values.isna().to_numpy()
    if pd.api.types.is_bool_dtype(dtype):
        return np.where(missing, "null", "boolean")
    if pd.api.types.is_integer_dtype(dtype):
        return np.where(missing, "null", "integer")
    if pd.api.types.is_float_dtype(dtype):
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            integral = np.isfinite(numbers) & (numbers == np.floor(numbers))
        return np.select([missing, integral], ["null", "integer"], "number")
    if isinstance(dtype, pd.StringDtype) or (
        pd.api.types.infer_dtype(values, skipna=False) == "string"
    ):
        return np.where(missing, "null", "string")
    return np.array([_kind(value) for value in values], dtype=object)


def _plain(value: object) -> object:
    """A cell as the JSON value it stands for (numpy scalars as Python ones, NaN as None)."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (float, np.floating)) and np.isnan(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


# One rule broken by some rows: (column, mask of the rows breaking it, message for a value).
_Failure = tuple[str, np.ndarray, Callable[[object], str]]


def _value_failures(
    column: str, values: pd.Series, kinds: np.ndarray, rule: dict
) -> list[_Failure]:
    """The rules of one property's schema, each as a mask over the rows; jsonschema's
    messages, and, as in JSON Schema, minimum and minLength only judge numbers and text."""
    failures: list[_Failure] = []
    if "type" in rule:
        types = rule["type"] if isinstance(rule["type"], list) else [rule["type"]]
        accepted = set().union(*(_ACCEPTED_KINDS[name] for name in types))
        names = ", ".join(repr(name) for name in types)
        failures.append(
            (column, ~np.isin(kinds, list(accepted)), lambda v: f"{v!r} is not of type {names}")
        )
    is_text = kinds == "string"
    if "enum" in rule:
        enum = rule["enum"]
        bad = ~(is_text & values.isin(enum).to_numpy())
        failures.append((column, bad, lambda v: f"{v!r} is not one of {enum!r}"))
    if "const" in rule:
        const = rule["const"]
        bad = ~(is_text & values.isin([const]).to_numpy())
        failures.append((column, bad, lambda v: f"{const!r} was expected"))
    if "minimum" in rule:
        minimum = rule["minimum"]
        numeric = np.isin(kinds, ["integer", "number"])
        numbers = pd.to_numeric(values.where(numeric), errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            bad = numeric & (numbers < minimum)
        failures.append((column, bad, lambda v: f"{v!r} is less than the minimum of {minimum!r}"))
    if "minLength" in rule:
        shortest = rule["minLength"]
        lengths = np.full(len(values), shortest)
        if is_text.any():
            lengths[is_text] = values[is_text].astype(str).str.len().to_numpy()
        message = "should be non-empty" if shortest == 1 else "is too short"
        failures.append((column, is_text & (lengths < shortest), lambda v: f"{v!r} {message}"))
    return failures


def _failures(df: pd.DataFrame, part: dict, kinds: dict[str, np.ndarray]) -> list[_Failure]:
    failures = []
    for column, rule in part.get("properties", {}).items():
        if column in df.columns:
            failures += _value_failures(column, df[column], kinds[column], rule)
    if "if" in part:
        # `then` binds the rows that pass `if`, `else` the others.
        broken = [bad for _, bad, _ in _failures(df, part["if"], kinds)]
        holds = ~np.any(broken, axis=0) if broken else np.ones(len(df), bool)
        failures += [
            (c, bad & holds, m) for c, bad, m in _failures(df, part.get("then", {}), kinds)
        ]
        failures += [
            (c, bad & ~holds, m) for c, bad, m in _failures(df, part.get("else", {}), kinds)
        ]
    return failures


def violations(df: pd.DataFrame) -> pd.DataFrame:
    """Every cell that breaks the manifest schema: DataFrame(row, clip_id, column, message).

    `row` is the position in `df` (0 = first data row); messages are jsonschema's. Rows
    come in order; within a row, in the schema's order. Columns must be checked first
    (`validate_manifest` does).
    """
    schema = manifest_schema()
    kinds = {column: _kinds(df[column]) for column in schema["properties"] if column in df}
    found = [pd.DataFrame(columns=["row", "column", "message"])]
    for column, bad, message in _failures(df, schema, kinds):
        rows = np.flatnonzero(bad)
        values = df[column].to_numpy(dtype=object)[rows]
        messages = [message(_plain(value)) for value in values]
        found.append(pd.DataFrame({"row": rows, "column": column, "message": messages}))
    table = pd.concat(found, ignore_index=True).astype({"row": int})
    table = table.sort_values("row", kind="stable").reset_index(drop=True)
    clip_ids = df["clip_id"].to_numpy(dtype=object)[table["row"].to_numpy()]
    table.insert(1, "clip_id", [_plain(clip_id) for clip_id in clip_ids])
    return table


def concat_split_lists(frames: list[pd.DataFrame], source: str | Path, lists) -> pd.DataFrame:
    """A reader's per-split tables as one, refusing a clip that two split lists both name."""
    df = pd.concat(frames, ignore_index=True)
    repeated = df["clip_id"][df["clip_id"].duplicated()]
    if not repeated.empty:
        raise LayoutError(
            f"{source}: clips listed twice across {list(lists)}: {sorted(set(repeated))[:5]}"
        )
    return df


def manifest_columns(df: pd.DataFrame) -> list[str]:
    """The columns a manifest of `df` has: COLUMNS, then the optional ones `df` carries."""
    return COLUMNS + [column for column in OPTIONAL_COLUMNS if column in df.columns]


def validate_manifest(df: pd.DataFrame, source: str | Path) -> None:
    """Raise ManifestError naming `source`, the row, its clip_id, and each bad column and value
    of the first row that breaks the schema (and how many rows do)."""
    schema = manifest_schema()
    missing = [column for column in schema["required"] if column not in df.columns]
    unexpected = [column for column in df.columns if column not in schema["properties"]]
    if missing or unexpected:
        raise ManifestError(f"{source}: missing columns {missing}, unexpected columns {unexpected}")

    found = violations(df)
    if not found.empty:
        first = found[found["row"] == found["row"].iloc[0]]
        details = "; ".join(
            f"column {column}: {message}"
            for column, message in zip(first["column"], first["message"], strict=True)
        )
        others = found["row"].nunique() - 1
        more = f" (and {others} more rows)" if others else ""
        raise ManifestError(
            f"{source}: row {first['row'].iloc[0]} (clip_id {first['clip_id'].iloc[0]!r}): "
            f"{details}{more}"
        )

    duplicated = df["clip_id"][df["clip_id"].duplicated()]
    if not duplicated.empty:
        raise ManifestError(f"{source}: duplicate clip_id {sorted(set(duplicated))[:5]}")


def write_manifest(df: pd.DataFrame, path: str | Path) -> None:
    """Validate `df` and write it as CSV (columns in `manifest_columns` order) atomically."""
    path = Path(path)
    validate_manifest(df, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write next to the target and rename: a killed job leaves no half-written manifest.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", newline="") as file:
            df[manifest_columns(df)].to_csv(file, index=False)
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


def _parse_column(texts: pd.Series, column: str) -> pd.Series:
    """A typed column from the text of a well-formed manifest in one vectorised step; cell
    by cell (`_parsed`) only when some cell does not parse, so that validation names it."""
    try:
        if column == "has_audio":
            flags = texts.map({"True": True, "False": False})
            if flags.isna().any():
                raise ValueError("not True/False")
            return flags.astype(bool)
        if column == "label_index":
            return texts.astype(int)
        # An unknown duration is written as an empty cell.
        return texts.replace("", np.nan).astype(float)
    except (ValueError, TypeError):
        parse = _PARSERS[column]
        return pd.Series([_parsed(text, parse) for text in texts], index=texts.index, dtype=object)


def read_manifest(path: str | Path) -> pd.DataFrame:
    """Read and validate a manifest written by `write_manifest`."""
    path = Path(path)
    try:
        # All text first: pandas would turn a column with one bad number into text
        # throughout, and the error would then point at the first row, not the bad one.
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ManifestError(f"{path}: not a readable CSV: {error}") from error
    for column in _PARSERS:
        if column in df.columns:
            df[column] = _parse_column(df[column], column)
    validate_manifest(df, path)
    return df.astype(_DTYPES)


def audio_file(row) -> str:
    """The file holding a manifest row's sound: its `audio_path` when set (DCASE's WAVs),
    else the video itself. `row` is a Series or an itertuples row."""
    return getattr(row, "audio_path", "") or row.path


def _has_audio_stream(path: str) -> bool:
    """Whether a separate audio file can be opened and holds sound; a missing or broken
    one leaves its clip without sound, not unusable (the video still is)."""
    try:
        return probe(path).has_audio
    except (FileNotFoundError, MediaError):
        return False


ALL_CLASSES = "all"


def build_manifest(
    rows: pd.DataFrame, classes: Sequence[str] | str, probe_workers: int = 8
) -> pd.DataFrame:
    """Keep the configured classes of a reader's rows and probe every clip.

    rows: (clip_id, path, label, split) from a dataset reader, and `audio_path` where the
    sound is a file of its own (DCASE): it is kept, and `has_audio` then says whether
    that file holds sound. classes: the class list from config; its order gives
    label_index; "all" keeps every class the rows name, in sorted order (Kinetics-400's
    and Moments in Time's usual indexing). Every configured class must occur in `rows`: a
    class with no clips is a
    misspelt name (UCF101 spells the folder HandstandPushups and its files
    HandStandPushups), not an empty class.
    Probing runs ffmpeg per file, which waits on disk and on a subprocess, so threads
    overlap it well.
    """
    missing_columns = [column for column in READER_COLUMNS if column not in rows.columns]
    if missing_columns:
        raise ManifestError(f"reader rows lack columns {missing_columns}")
    if isinstance(classes, str):
        if classes != ALL_CLASSES:
            raise ManifestError(f"classes must be a list or {ALL_CLASSES!r}, got {classes!r}")
        classes = sorted(set(rows["label"]))
    if len(set(classes)) != len(classes):
        raise ManifestError(f"class list has duplicates: {list(classes)}")
    absent = sorted(set(classes) - set(rows["label"]))
    if absent:
        raise ManifestError(f"configured classes with no clips in the dataset: {absent}")

    index_of = {label: index for index, label in enumerate(classes)}
    carried = READER_COLUMNS + [column for column in OPTIONAL_COLUMNS if column in rows.columns]
    kept = rows.loc[rows["label"].isin(index_of), carried].reset_index(drop=True)
    kept["label_index"] = kept["label"].map(index_of).astype(int)

    with ThreadPoolExecutor(max_workers=probe_workers) as pool:
        results = list(
            tqdm(pool.map(clip_status, kept["path"]), total=len(kept), desc="probe clips")
        )
        # probe is None only for statuses where nothing could be read.
        kept["has_audio"] = [bool(probe and probe.has_audio) for _, probe, _ in results]
        if "audio_path" in kept.columns:
            kept["audio_path"] = kept["audio_path"].fillna("").astype(str)
            separate = (kept["audio_path"] != "").to_numpy()
            sources = kept.loc[separate, "audio_path"]
            kept.loc[separate, "has_audio"] = list(
                tqdm(pool.map(_has_audio_stream, sources), total=len(sources), desc="probe audio")
            )
    kept["duration"] = [probe.duration if probe else None for _, probe, _ in results]
    kept["duration"] = kept["duration"].astype(float)
    kept["status"] = [status for status, _, _ in results]
    kept["reason"] = [reason for _, _, reason in results]
    return kept[manifest_columns(kept)]


def shard_rows(df: pd.DataFrame, i: int, n: int) -> pd.DataFrame:
    """Shard `i` of `n`: the rows at positions p with p % n == i (index kept)."""
    if not 0 <= i < n:
        raise ValueError(f"shard index {i} is not in 0..{n - 1}")
    return df.iloc[i::n]
