"""Bodies of the acquisition localrules: raw datasets into resources/, in the layout the
readers (`ucf101`, `kinetics`) expect.

    ucf101:      root/UCF-101/{Class}/*.avi, root/ucfTrainTestlist/*.txt, root/.complete
    kinetics400: root/annotations/{train,validate,test}.csv,
                 root/{split}/{label}/{youtube_id}_{start:06d}_{end:06d}.mp4,
                 root/download_status/{split}.csv

Archives are kept in root/downloads/ once verified, so a re-run neither downloads nor
unpacks again; each step moves its result into place in one rename, so an interrupted
run resumes at the first step whose result is missing.
"""

import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
from tqdm import tqdm

from avrepro.data.archives import extract
from avrepro.data.download import download_file
from avrepro.data.kinetics import ANNOTATION_COLUMNS, ANNOTATION_FILES, read_annotations, video_path
from avrepro.data.ucf101 import LISTS_DIR, VIDEO_DIR
from avrepro.data.youtube import WATCH_URL, ClipUnavailable, download_segment

STATUS_COLUMNS = ["youtube_id", "label", "status", "reason"]


class AcquisitionError(Exception):
    pass


def acquire_ucf101(cfg: dict, root: Path) -> None:
    """Download and unpack UCF101 (videos and official splits); writes root/.complete last.

    cfg: {video_archive: {url, sha256}, splits_archive: {url, sha256}}; sha256 may be null.
    """
    root = Path(root)
    parts = [
        ("video_archive", VIDEO_DIR, "class folders of .avi files", _holds_class_folders),
        ("splits_archive", LISTS_DIR, "classInd.txt", _holds_class_index),
    ]
    sources = {key: _url_and_sha256(cfg, key) for key, *_ in parts}  # config errors first
    for key, folder, content, looks_right in parts:
        if (root / folder).is_dir():
            continue
        archive = _download(*sources[key], root / "downloads")
        with _unpacked(archive, content, looks_right) as unpacked:
            os.replace(unpacked, root / folder)

    classes = [d for d in (root / VIDEO_DIR).iterdir() if d.is_dir()]
    videos = sum(1 for d in classes for _ in d.glob("*.avi"))
    _write_atomically(root / ".complete", f"classes {len(classes)}\nvideos {videos}\n")


def acquire_kinetics_annotations(cfg: dict, root: Path) -> Path:
    """Fetch the Kinetics-400 annotation CSVs into root/annotations/; returns that folder.

    cfg["annotations"] is either the DeepMind archive, {url, sha256}, or one CSV per
    file, {train: {url, sha256}, validate: {...}, test: {...}}.
    """
    root = Path(root)
    annotations = root / "annotations"
    names = list(ANNOTATION_FILES.values())
    if all((annotations / name).is_file() for name in names):
        return annotations
    source = cfg.get("annotations")
    if not isinstance(source, dict):
        raise AcquisitionError(f"config key 'annotations' must be a mapping, got {source!r}")

    annotations.mkdir(parents=True, exist_ok=True)
    if "url" in source:
        archive = _download(*_url_and_sha256(cfg, "annotations"), root / "downloads")

        def holds_csvs(folder: Path) -> bool:
            return all((folder / name).is_file() for name in names)

        with _unpacked(archive, ", ".join(names), holds_csvs) as unpacked:
            for name in names:
                _check_columns(unpacked / name)
            for name in names:
                os.replace(unpacked / name, annotations / name)
    else:
        sources = {name: _url_and_sha256(source, Path(name).stem, "annotations.") for name in names}
        for name in names:
            url, sha256 = sources[name]
            downloaded = download_file(url, root / "downloads" / name, sha256=sha256)
            _check_columns(downloaded)
            _write_atomically(annotations / name, downloaded.read_text())
    return annotations


def acquire_kinetics_videos(
    annotations: Path,
    root: Path,
    classes: list[str] | None,
    split: str,
    workers: int,
    url_template: str = WATCH_URL,
) -> pd.DataFrame:
    """Download the clips of one Kinetics split (train, val or test), in parallel.

    annotations: the folder `acquire_kinetics_annotations` filled (root/annotations).
    classes: the labels to fetch (None: all). Clips already on disk are skipped, so an
    interrupted run resumes. A clip that cannot be fetched is a `missing` row with yt-dlp's
    reason, not an error. Returns the status table (youtube_id, label, status, reason), also
    written to root/download_status/{split}.csv.
    """
    root = Path(root)
    # read_annotations reads <dataset root>/annotations/, which `annotations` is.
    rows = read_annotations(Path(annotations).parent, split)
    if classes is not None:
        unknown = sorted(set(classes) - set(rows["label"]))
        if unknown:
            raise AcquisitionError(f"{annotations}: no {split} clips of classes {unknown}")
        rows = rows[rows["label"].isin(classes)]
    records = rows.to_dict("records")

    def fetch(row: dict) -> tuple[str, str]:
        dest = video_path(root, row)
        if dest.exists():
            return "ok", ""
        url = url_template.format(youtube_id=row["youtube_id"])
        try:
            download_segment(url, row["time_start"], row["time_end"], dest)
        except ClipUnavailable as error:
            return "missing", error.reason
        return "ok", ""

    outcomes = [("", "")] * len(records)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(fetch, row): i for i, row in enumerate(records)}
        progress = tqdm(as_completed(futures), total=len(futures), desc=f"kinetics400 {split}")
        for future in progress:
            outcomes[futures[future]] = future.result()

    status = pd.DataFrame(
        {
            "youtube_id": [row["youtube_id"] for row in records],
            "label": [row["label"] for row in records],
            "status": [state for state, _ in outcomes],
            "reason": [reason for _, reason in outcomes],
        },
        columns=STATUS_COLUMNS,
    )
    _write_atomically(root / "download_status" / f"{split}.csv", status.to_csv(index=False))
    return status


def _url_and_sha256(cfg: dict, key: str, prefix: str = "") -> tuple[str, str | None]:
    entry = cfg.get(key)
    if not isinstance(entry, dict) or not entry.get("url"):
        raise AcquisitionError(f"config key '{prefix}{key}' needs a url (and a sha256 or null)")
    return entry["url"], entry.get("sha256")


def _download(url: str, sha256: str | None, downloads: Path) -> Path:
    return download_file(url, downloads / Path(urlsplit(url).path).name, sha256=sha256)


def _holds_class_folders(folder: Path) -> bool:
    return any(folder.glob("*/*.avi"))


def _holds_class_index(folder: Path) -> bool:
    return (folder / "classInd.txt").is_file()


@contextmanager
def _unpacked(archive: Path, content: str, looks_right: Callable[[Path], bool]) -> Iterator[Path]:
    """Unpack `archive` beside itself and yield its outermost folder that `looks_right`;
    what the caller has not moved out is deleted afterwards.

    Archives differ in how deep they wrap their content (UCF101.rar holds UCF-101/,
    kinetics400.tar.gz holds kinetics400/), so the folder is found, not assumed.
    """
    unpacked = archive.with_name(archive.name + ".extracted")
    shutil.rmtree(unpacked, ignore_errors=True)  # left over by an interrupted run
    extract(archive, unpacked)
    try:
        folders = [unpacked, *(p for p in unpacked.rglob("*") if p.is_dir())]
        found = next(
            (f for f in sorted(folders, key=lambda p: len(p.parts)) if looks_right(f)), None
        )
        if found is None:
            raise AcquisitionError(f"{archive}: no folder with {content} inside")
        yield found
    finally:
        shutil.rmtree(unpacked, ignore_errors=True)


def _check_columns(path: Path) -> None:
    columns = list(pd.read_csv(path, nrows=0).columns)
    if columns != ANNOTATION_COLUMNS:
        raise AcquisitionError(f"{path}: expected columns {ANNOTATION_COLUMNS}, got {columns}")


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not tempfile: its 0600 mode would become the file's once renamed.
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    os.replace(partial, path)
