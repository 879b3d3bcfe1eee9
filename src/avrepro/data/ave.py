"""Reader for the AVE (Audio-Visual Event) dataset layout, as AVE_Dataset.zip unpacks.

    root/AVE/{VideoID}.mp4
    root/Annotations.txt                        every annotation, 4143 rows
    root/{train,val,test}Set.txt                the ECCV 2018 split, 3339 / 402 / 402 rows

Each file holds rows `Category&VideoID&Quality&StartTime&EndTime` ("Church bell&
RUhOCu3LNXM&good&0&10"); the copies in the dataset archive start with that line as a
header, the copy in the authors' GitHub repository does not, so the header is optional.
28 categories, some with spaces and commas ("Baby cry, infant cry").

A video can carry several events: 46 of the 4097 videos are annotated two or three times,
each time with another category. A sample is therefore an annotation row, identified by
its category and video (see `clip_id`), and two samples may share one file.
"""

import re
from pathlib import Path

import pandas as pd

from avrepro.data.manifest import READER_COLUMNS, LayoutError, concat_split_lists

VIDEO_DIR = "AVE"
ANNOTATIONS_FILE = "Annotations.txt"
HEADER = "Category&VideoID&Quality&StartTime&EndTime"
ANNOTATION_COLUMNS = ["category", "video_id", "quality", "start", "end"]
# AVE's split name -> its list file.
SPLIT_FILES = {"train": "trainSet.txt", "val": "valSet.txt", "test": "testSet.txt"}
# The 28 event categories, as Annotations.txt spells them.
CATEGORIES = (
    "Accordion",
    "Acoustic guitar",
    "Baby cry, infant cry",
    "Banjo",
    "Bark",
    "Bus",
    "Cat",
    "Chainsaw",
    "Church bell",
    "Clock",
    "Female speech, woman speaking",
    "Fixed-wing aircraft, airplane",
    "Flute",
    "Frying (food)",
    "Goat",
    "Helicopter",
    "Horse",
    "Male speech, man speaking",
    "Mandolin",
    "Motorcycle",
    "Race car, auto racing",
    "Rodents, rats, mice",
    "Shofar",
    "Toilet flush",
    "Train horn",
    "Truck",
    "Ukulele",
    "Violin, fiddle",
)


def clip_id(category: str, video_id: str) -> str:
    """A file-name-safe id unique per annotation: "church_bell__RUhOCu3LNXM".

    The video id alone is not unique (see the module docstring); the category is
    lower-cased with every run of other characters than letters and digits made one "_".
    """
    slug = re.sub(r"[^a-z0-9]+", "_", category.lower()).strip("_")
    return f"{slug}__{video_id}"


def read_annotations(path: str | Path) -> pd.DataFrame:
    """An AVE annotation or split file: DataFrame(category, video_id, quality, start, end).

    start and end are the event's whole seconds within the 10 s video.
    Raises LayoutError naming the file and line of a malformed row.
    """
    path = Path(path)
    # utf-8-sig: a byte-order mark would otherwise stick to the first category.
    with open(path, encoding="utf-8-sig") as file:
        lines = [(number, line.rstrip("\r\n")) for number, line in enumerate(file, 1)]
    rows = []
    for number, line in lines:
        if not line.strip() or (number == 1 and line.strip() == HEADER):
            continue
        fields = line.split("&")
        if len(fields) != 5 or not (fields[3].isdigit() and fields[4].isdigit()):
            raise LayoutError(f"{path}:{number}: expected '{HEADER}', got {line!r}")
        category, video_id, quality, start, end = fields
        # One real row, "Church bell&VWi2ENBuTbw&good&0&0", has an empty event; it is kept,
        # since its video is labelled all the same.
        if int(start) > int(end):
            raise LayoutError(f"{path}:{number}: event ends before it starts: {line!r}")
        rows.append((category, video_id, quality, int(start), int(end)))
    return pd.DataFrame(rows, columns=ANNOTATION_COLUMNS)


def read_ave(root: str | Path) -> pd.DataFrame:
    """The ECCV 2018 split: DataFrame(clip_id, path, label, split), split train/val/test.

    Train rows come first, then val, then test, each in file order. Paths are root-based;
    the files are not checked here, `build_manifest` probes them. The event's start and
    end times are dropped: MAFnet classifies the whole 10 s video.
    """
    root = Path(root)
    frames = []
    for split, name in SPLIT_FILES.items():
        rows = read_annotations(root / name)
        pairs = zip(rows["category"], rows["video_id"], strict=True)
        frames.append(
            pd.DataFrame(
                {
                    "clip_id": [clip_id(category, video) for category, video in pairs],
                    "path": [str(root / VIDEO_DIR / f"{video}.mp4") for video in rows["video_id"]],
                    "label": rows["category"],
                    "split": split,
                }
            )
        )
    return concat_split_lists(frames, root, SPLIT_FILES.values())[READER_COLUMNS]
