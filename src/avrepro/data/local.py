"""Raw datasets already on disk (`acquire: local`, `path:`): linked into resources/{raw}/,
never written into.

Most users hold UCF101, Kinetics, AVE or DCASE on their cluster already. Every top-level
entry of the user's folder is linked (a symbolic link) into resources/{raw}/, where the
readers look, so that the manifest, its coverage and every later stage work as for a
download; the workflow's own files there (.complete) stay beside the links, outside the
user's folder. The folder must hold the dataset's published layout (LAYOUTS); what it
lacks is named before any job starts (`layout_errors`, run by config validation), and the
clips its lists name but it does not hold are counted and named when it is linked
(`missing_clips`), then recorded by the manifest as status "missing", as a download's
gaps are.
"""

import os
from pathlib import Path

import pandas as pd

from avrepro.data import ave, dcase, mit, ucf101
from avrepro.data.manifest import ALL_CLASSES
from avrepro.data.readers import read_listed

# What each raw dataset's folder must hold (files and folders, relative to it), as the
# dataset publishes it; the acquire module's docstring shows each layout whole.
LAYOUTS = {
    "ucf101": [f"{ucf101.VIDEO_DIR}/", f"{ucf101.LISTS_DIR}/classInd.txt"],
    # The annotation CSVs; the split folders ({train,val,test}/{label}/*.mp4) may be
    # partial, as YouTube's losses make every copy.
    "kinetics400": ["annotations/"],
    "ave": [f"{ave.VIDEO_DIR}/", ave.ANNOTATIONS_FILE, *ave.SPLIT_FILES.values()],
    "dcase2021": [f"{dcase.SETUP_DIR}/{name}" for name in dcase.SPLIT_FILES.values()],
    "moments_mini": [
        mit.CATEGORIES_FILE,
        *(entry for listed, folder in mit.SPLITS.values() for entry in (listed, f"{folder}/")),
    ],
}
# Names the workflow writes in resources/{raw}/: never taken from the user's folder.
OWN_ENTRIES = {".complete"}
SHOWN = 5  # missing files named in a message; the count covers the rest


class LocalDatasetError(ValueError):
    pass


def layout_errors(raw: str, path: str | Path) -> list[str]:
    """What the folder at `path` lacks of raw dataset `raw`'s layout (empty: nothing)."""
    folder = Path(path)
    if not folder.is_dir():
        return [f"{folder} is not a folder"]
    lacking = [
        entry
        for entry in LAYOUTS[raw]
        if not ((folder / entry).is_dir() if entry.endswith("/") else (folder / entry).is_file())
    ]
    return [f"{folder} lacks {', '.join(lacking)}"] if lacking else []


def link_local(raw: str, path: str | Path, root: str | Path) -> list[str]:
    """Link every top-level entry of the user's folder into `root` (resources/{raw}/);
    returns the names linked. Links left from an earlier path are replaced; a real file or
    folder in `root` (an earlier download or synthetic set) is an error, not overwritten."""
    errors = layout_errors(raw, path)
    if errors:
        raise LocalDatasetError(f"config key 'raw.{raw}.path': {'; '.join(errors)}")
    source, root = Path(path).resolve(), Path(root)
    root.mkdir(parents=True, exist_ok=True)
    names = sorted(p.name for p in source.iterdir() if p.name not in OWN_ENTRIES)
    clashing = [n for n in names if (root / n).exists() and not (root / n).is_symlink()]
    if clashing:
        raise LocalDatasetError(
            f"{root} already holds {clashing[:SHOWN]} (a download or synthetic set): remove "
            f"them to use raw.{raw}.path {source}"
        )
    for name in names:
        link = root / f".{name}.link"
        link.unlink(missing_ok=True)
        link.symlink_to(source / name)
        os.replace(link, root / name)  # one rename: a rerun never sees no entry
    return names


def check_clips(raw: str, datasets: dict[str, dict], root: str | Path) -> list[str]:
    """For each dataset of `raw` (config.yaml's datasets), a line on the files its lists
    name in its classes that are not under `root` (`describe_missing`). Some may be
    missing (the manifest records them); none at all there is a wrong layout: an error."""
    lines = []
    for name, dataset in datasets.items():
        if dataset["raw"] != raw:
            continue
        try:
            listed = read_listed(name, dataset, root)
        except FileNotFoundError as error:  # a list file the layout check does not cover
            raise LocalDatasetError(f"config key 'raw.{raw}.path': datasets.{name} needs "
                                    f"{error.filename}") from error
        if dataset["classes"] != ALL_CLASSES:
            listed = listed[listed.label.isin(dataset["classes"])]
        missing = missing_clips(listed)
        if len(listed) and len(missing) >= len(listed):
            raise LocalDatasetError(
                f"config key 'raw.{raw}.path': none of the clips datasets.{name} lists is "
                f"there (the first: {missing[0]}); is it the published layout?"
            )
        lines.append(describe_missing(name, len(listed), missing))
    return lines


def missing_clips(listed: pd.DataFrame) -> list[str]:
    """Files the lists name (path, and audio_path where the dataset has one) that are not
    on disk."""
    columns = [c for c in ("path", "audio_path") if c in listed]
    return [p for c in columns for p in listed[c] if not Path(p).is_file()]


def describe_missing(name: str, n_listed: int, missing: list[str]) -> str:
    """One line on a dataset's files missing from a local copy."""
    if not missing:
        return f"datasets.{name}: all {n_listed} listed clips are on disk"
    shown = ", ".join(missing[:SHOWN]) + (" ..." if len(missing) > SHOWN else "")
    return (f"datasets.{name}: {len(missing)} of the {n_listed} listed clips' files are "
            f"missing (the manifest records them as 'missing'): {shown}")
