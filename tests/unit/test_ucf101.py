"""The UCF101 reader on the official split lists, and UCF51 as its 51-class subset."""

import json
from pathlib import Path

import pytest

from avrepro.data.coverage import coverage_report
from avrepro.data.manifest import LayoutError, build_manifest
from avrepro.data.ucf101 import class_names, read_ucf101

LISTS = {
    "classInd.txt": "ucf101_classInd.txt",
    "trainlist01.txt": "ucf101_trainlist01.txt",
    "testlist01.txt": "ucf101_testlist01.txt",
}


@pytest.fixture
def real_root(fixtures_dir: Path, tmp_path: Path) -> Path:
    """A UCF101 root whose split lists are the real ones (linked, not copied); no videos."""
    lists = tmp_path / "ucfTrainTestlist"
    lists.mkdir()
    for name, fixture in LISTS.items():
        (lists / name).symlink_to(fixtures_dir / "labels" / fixture)
    return tmp_path


def write_lists(root: Path, class_ind: str, train: str, test: str = "") -> Path:
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_text(class_ind)
    (lists / "trainlist02.txt").write_text(train)
    (lists / "testlist02.txt").write_text(test)
    return root


def test_split1_has_the_official_counts(real_root: Path) -> None:
    clips = read_ucf101(real_root, split=1)
    assert clips.columns.tolist() == ["clip_id", "path", "label", "split"]
    assert clips["split"].value_counts().to_dict() == {"train": 9537, "test": 3783}
    assert clips["label"].nunique() == 101
    assert clips["clip_id"].is_unique
    first = clips.iloc[0]
    assert first["clip_id"] == "v_ApplyEyeMakeup_g08_c01"
    assert first["path"] == str(real_root / "UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi")


def test_label_is_the_folder_not_the_file_name(real_root: Path) -> None:
    clips = read_ucf101(real_root, split=1)
    handstand = clips[clips["clip_id"].str.startswith("v_HandStandPushups_")]
    assert len(handstand) > 0
    assert set(handstand["label"]) == {"HandstandPushups"}
    assert "HandStandPushups" not in set(clips["label"])


def test_ucf51_is_split1_on_51_classes(real_root: Path, fixtures_dir: Path) -> None:
    annotation = json.loads((fixtures_dir / "labels" / "ucf51_annotation.json").read_text())
    clips = read_ucf101(real_root, split=1)
    # The annotation spells HandstandPushups as its files do; the config uses the folder name.
    folder_of = {label.lower(): label for label in clips["label"]}
    classes = [folder_of[label.lower()] for label in annotation["labels"]]
    assert len(classes) == 51

    # No videos here: every clip is "missing", which still exercises the class filter.
    ucf51 = build_manifest(clips, classes)
    assert set(ucf51["status"]) == {"missing"}
    assert sorted(set(ucf51["label_index"])) == list(range(51))
    counts = coverage_report(ucf51).set_index("split")["listed"].to_dict()
    subsets = [entry["subset"] for entry in annotation["database"].values()]
    assert subsets.count("validation") == counts["test"] == 1944
    # The annotation drops exactly 9 training clips (the ones without an audio track).
    dropped = set(ucf51.loc[ucf51["split"] == "train", "clip_id"]) - set(annotation["database"])
    assert subsets.count("training") + 9 == counts["train"] == 4901
    assert sorted(dropped) == [
        "v_BasketballDunk_g15_c04",
        "v_BasketballDunk_g15_c05",
        "v_BasketballDunk_g15_c06",
        "v_BasketballDunk_g15_c07",
        "v_HandStandPushups_g14_c01",
        "v_HandStandPushups_g14_c02",
        "v_HandStandPushups_g14_c03",
        "v_HandStandPushups_g14_c04",
        "v_PlayingCello_g19_c06",
    ]


def test_reads_lf_line_ends_and_relative_roots(tmp_path: Path, monkeypatch) -> None:
    write_lists(tmp_path / "ucf", "1 Biking\n2 Diving\n", "Diving/v_Diving_g08_c01.avi 2\n")
    monkeypatch.chdir(tmp_path)
    clips = read_ucf101("ucf", split=2)
    assert clips.to_dict("records") == [
        {
            "clip_id": "v_Diving_g08_c01",
            "path": "ucf/UCF-101/Diving/v_Diving_g08_c01.avi",
            "label": "Diving",
            "split": "train",
        }
    ]


@pytest.mark.parametrize(
    ("class_ind", "train", "message"),
    [
        ("1 Biking\n", "Diving/v_Diving_g08_c01.avi 1\n", r"trainlist02\.txt:1: class 'Diving'"),
        ("1 Biking\n", "Biking/v_Biking_g08_c01.avi 3\n", r"trainlist02\.txt:1: index '3'"),
        ("1 Biking\n", "v_Biking_g08_c01.avi 1\n", r"trainlist02\.txt:1: expected 'CLASS/FILE"),
        ("Biking 1\n", "", r"classInd\.txt:1: expected 'INDEX CLASS'"),
    ],
)
def test_malformed_lists_name_file_and_line(tmp_path, class_ind, train, message) -> None:
    root = write_lists(tmp_path, class_ind, train)
    with pytest.raises(LayoutError, match=message):
        read_ucf101(root, split=2)


def test_split_number_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="split must be one of"):
        read_ucf101(tmp_path, split=4)


def test_missing_list_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="classInd.txt"):
        read_ucf101(tmp_path, split=1)


def test_all_classes_in_class_index_order(real_root: Path) -> None:
    """UCF101 whole: every class, label_index = classInd's index - 1 (not sorted order)."""
    names = class_names(real_root)
    assert len(names) == 101 and names[:2] == ["ApplyEyeMakeup", "ApplyLipstick"]
    assert names.index("Hammering") < names.index("HammerThrow")  # sorted() has it reversed
    clips = read_ucf101(real_root, split=1)
    whole = build_manifest(clips, names)
    assert len(whole) == 13320
    first = whole.drop_duplicates("label").set_index("label")["label_index"]
    assert first.to_dict() == {name: index for index, name in enumerate(names)}
    # `all` keeps the same clips; only its order differs (see class_names).
    everything = build_manifest(clips, "all")
    assert sorted(set(everything["label"])) == sorted(names)
    assert len(everything) == 13320
