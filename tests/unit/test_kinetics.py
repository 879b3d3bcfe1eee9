"""The Kinetics reader: annotation CSVs to clip ids and paths; Kinetics-Sounds 27 names."""

from pathlib import Path

import pandas as pd
import pytest

from avrepro.data.kinetics import clip_id, read_kinetics, video_path
from avrepro.data.manifest import LayoutError

HEADER = "label,youtube_id,time_start,time_end,split\n"


def ks27_entries(fixtures_dir: Path, name: str) -> list[tuple[str, str]]:
    """(class, clip id) of each line `class/ytid_start_end nframes label` of a KS27 list."""
    lines = (fixtures_dir / "labels" / name).read_text().splitlines()
    # Class names contain spaces, so the clip is everything before the last two fields.
    return [tuple(line.rsplit(" ", 2)[0].split("/")) for line in lines]


def annotation_rows(entries: list[tuple[str, str]], split: str) -> pd.DataFrame:
    rows = []
    for label, name in entries:
        youtube_id, start, end = name.rsplit("_", 2)  # YouTube ids may contain "_"
        rows.append((label, youtube_id, int(start), int(end), split))
    return pd.DataFrame(rows, columns=["label", "youtube_id", "time_start", "time_end", "split"])


def write_annotations(root: Path, files: dict[str, str]) -> Path:
    (root / "annotations").mkdir(parents=True)
    for name, text in files.items():
        (root / "annotations" / name).write_text(text)
    return root


def test_ks27_classes_are_kinetics400_names(fixtures_dir: Path) -> None:
    classes = {label for label, _ in ks27_entries(fixtures_dir, "ks27_train.txt")}
    assert classes == {label for label, _ in ks27_entries(fixtures_dir, "ks27_val.txt")}
    assert len(classes) == 27
    k400 = set((fixtures_dir / "labels" / "k400_labels.txt").read_text().splitlines())
    assert classes <= k400


def test_reads_real_ks27_clips_back_to_their_names(fixtures_dir: Path, tmp_path: Path) -> None:
    train = ks27_entries(fixtures_dir, "ks27_train.txt")[::500]
    val = ks27_entries(fixtures_dir, "ks27_val.txt")[::100]
    write_annotations(tmp_path, {})
    annotation_rows(train, "train").to_csv(tmp_path / "annotations/train.csv", index=False)
    annotation_rows(val, "val").to_csv(tmp_path / "annotations/validate.csv", index=False)

    clips = read_kinetics(tmp_path, {"train": "train", "test": "val"})
    assert clips.columns.tolist() == ["clip_id", "path", "label", "split"]
    assert list(zip(clips["label"], clips["clip_id"], strict=True)) == train + val
    assert clips["split"].tolist() == ["train"] * len(train) + ["test"] * len(val)
    label, name = val[0]
    assert clips["path"].iloc[len(train)] == str(tmp_path / "val" / label / f"{name}.mp4")
    assert " " in "".join(clips["label"])  # names keep their spaces


def test_clip_names_pad_times_to_six_digits() -> None:
    assert clip_id("a_b-c", 7, 17) == "a_b-c_000007_000017"
    row = {
        "label": "playing drums",
        "youtube_id": "x",
        "time_start": 0,
        "time_end": 10,
        "split": "val",
    }
    assert video_path("k", row) == Path("k/val/playing drums/x_000000_000010.mp4")


def test_only_requested_splits_are_read(tmp_path: Path) -> None:
    root = write_annotations(tmp_path, {"validate.csv": HEADER + "bowling,abc,1,11,val\n"})
    clips = read_kinetics(root, {"test": "val"})  # no train.csv needed
    assert clips["clip_id"].tolist() == ["abc_000001_000011"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("label,youtube_id,start,end,split\n", r"train\.csv: expected columns"),
        (HEADER + "bowling,abc,1,11,val\n", r"train\.csv: row 0 has split 'val'"),
        (HEADER + "bowling,abc,1.5,11,train\n", r"train\.csv: column time_start"),
    ],
)
def test_bad_annotations_name_the_file(tmp_path, text, message) -> None:
    root = write_annotations(tmp_path, {"train.csv": text})
    with pytest.raises(LayoutError, match=message):
        read_kinetics(root, {"train": "train"})


def test_split_names_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="split names must be among"):
        read_kinetics(tmp_path, {"holdout": "val"})
    with pytest.raises(ValueError, match="Kinetics split must be one of"):
        read_kinetics(tmp_path, {"test": "validate"})
