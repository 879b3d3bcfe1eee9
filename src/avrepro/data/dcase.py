"""Reader for DCASE 2021 Task 1B: TAU Urban Audio-Visual Scenes 2021, development set.

    root/audio/{scene}-{city}-{location}-{segment}.wav     48 kHz, 10 s
    root/video/{scene}-{city}-{location}-{segment}.mp4
    root/evaluation_setup/fold1_train.csv                  8646 rows
    root/evaluation_setup/fold1_evaluate.csv               3645 rows

The lists are tab-separated with the header `filename_audio filename_video scene_label`
and root-relative file names ("audio/airport-lyon-1095-40158.wav"). Ten scene classes;
scene names contain underscores (metro_station), never hyphens, so a file name splits
on "-". The challenge trains on fold1_train and reports on fold1_evaluate, as the
two-phase paper does; no recording location is in both.

The sound is the WAV; the videos are taken to carry no audio track of their own: to make
audible examples the dataset's authors muxed each WAV into its video (`ffmpeg -i VIDEO
-i AUDIO -shortest`, github.com/shanwangshan/TAU-urban-audio-visual-scenes, readme.org),
and their feature script opens the videos with `audio=False`. The manifest therefore
carries `audio_path`, and its has_audio describes the WAV.
"""

from pathlib import Path, PurePosixPath

import pandas as pd

from avrepro.data.manifest import READER_COLUMNS, LayoutError, concat_split_lists

SETUP_DIR = "evaluation_setup"
LIST_COLUMNS = ["filename_audio", "filename_video", "scene_label"]
# Our split name -> the challenge's list file.
SPLIT_FILES = {"train": "fold1_train.csv", "test": "fold1_evaluate.csv"}
COLUMNS = [*READER_COLUMNS, "audio_path"]
SCENES = (
    "airport",
    "bus",
    "metro",
    "metro_station",
    "park",
    "public_square",
    "shopping_mall",
    "street_pedestrian",
    "street_traffic",
    "tram",
)
# The 12 cities of the recordings, as file names spell them (Pham et al., Sec. IV-A).
CITIES = (
    "amsterdam",
    "barcelona",
    "helsinki",
    "lisbon",
    "london",
    "lyon",
    "madrid",
    "milan",
    "paris",
    "prague",
    "stockholm",
    "vienna",
)


def _checked_name(path: Path, number: int, name: str, folder: str, suffix: str) -> str:
    """The stem of a list entry `folder/STEM.suffix`; LayoutError naming the line if not."""
    relative = PurePosixPath(name)
    if relative.parent != PurePosixPath(folder) or relative.suffix != suffix:
        raise LayoutError(f"{path}:{number}: expected '{folder}/NAME{suffix}', got {name!r}")
    return relative.stem


def _read_list(path: Path, root: Path, split: str) -> pd.DataFrame:
    try:
        rows = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise LayoutError(f"{path}: not a tab-separated list: {error}") from error
    if list(rows.columns) != LIST_COLUMNS:
        raise LayoutError(f"{path}: expected columns {LIST_COLUMNS}, got {list(rows.columns)}")
    records = []
    # Line 1 is the header.
    for number, (audio, video, label) in enumerate(rows[LIST_COLUMNS].itertuples(index=False), 2):
        stem = _checked_name(path, number, video, "video", ".mp4")
        if _checked_name(path, number, audio, "audio", ".wav") != stem:
            raise LayoutError(f"{path}:{number}: audio {audio!r} and video {video!r} differ")
        # The scene is the first part of the name; a mismatch means shifted columns.
        if stem.split("-")[0] != label:
            raise LayoutError(f"{path}:{number}: {video!r} is not of scene {label!r}")
        records.append((stem, str(root / video), label, split, str(root / audio)))
    return pd.DataFrame(records, columns=["clip_id", "path", "label", "split", "audio_path"])


def read_dcase(root: str | Path) -> pd.DataFrame:
    """fold1 of the development set: DataFrame(clip_id, path, label, split, audio_path).

    `path` is the video (as for every reader), `audio_path` the separate 48 kHz recording.
    clip_id is the shared file stem ("airport-lyon-1095-40158"). Train rows first, then
    test rows, each in list order; files are not checked here.
    """
    root = Path(root)
    frames = [
        _read_list(root / SETUP_DIR / name, root, split) for split, name in SPLIT_FILES.items()
    ]
    return concat_split_lists(frames, root / SETUP_DIR, SPLIT_FILES.values())[COLUMNS]
