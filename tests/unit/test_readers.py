"""Dataset configs to readers: each raw dataset's reader with its split settings, and the
UCF101 table of every clip's role in several official splits."""

from pathlib import Path

import pandas as pd
import pytest

from avrepro.data import readers
from avrepro.data.readers import read_listed, split_table


@pytest.fixture
def calls(monkeypatch) -> list[tuple]:
    """Record which reader is called with what, instead of reading."""
    seen = []
    for name in ("read_ucf101", "read_kinetics", "read_ave", "read_dcase", "read_mit"):
        monkeypatch.setattr(
            readers, name, lambda *args, name=name: seen.append((name, *args)) or name
        )
    return seen


@pytest.mark.parametrize(
    ("cfg", "call"),
    [
        ({"raw": "ucf101", "split": 2}, ("read_ucf101", "root", 2)),
        (
            {"raw": "kinetics400", "splits": {"train": "train", "test": "val"}},
            ("read_kinetics", "root", {"train": "train", "test": "val"}),
        ),
        ({"raw": "ave"}, ("read_ave", "root")),
        ({"raw": "dcase2021"}, ("read_dcase", "root")),
        ({"raw": "moments_mini"}, ("read_mit", "root")),
    ],
)
def test_each_raw_dataset_has_its_reader(calls, cfg, call) -> None:
    assert read_listed("d", cfg, "root") == call[0]
    assert calls == [call]


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"raw": "ucf101"}, r"datasets\.ucf51: raw ucf101 needs the key 'split'"),
        ({"raw": "kinetics400"}, r"datasets\.ucf51: raw kinetics400 needs the key 'splits'"),
        ({"raw": "youtube8m"}, r"datasets\.ucf51: raw 'youtube8m' is not one of"),
    ],
)
def test_a_missing_setting_names_the_dataset(calls, cfg, message) -> None:
    with pytest.raises(ValueError, match=message):
        read_listed("ucf51", cfg, "root")
    assert calls == []


def write_lists(root: Path) -> Path:
    """UCF101 lists of splits 1-3 over three clips; split K tests group K."""
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_text("1 Diving\n")
    clips = [f"Diving/v_Diving_g0{group}_c01.avi" for group in (1, 2, 3)]
    for split in (1, 2, 3):
        test = [clip for clip in clips if f"_g0{split}_" in clip]
        (lists / f"trainlist0{split}.txt").write_text(
            "".join(f"{clip} 1\n" for clip in clips if clip not in test)
        )
        (lists / f"testlist0{split}.txt").write_text("".join(f"{clip}\n" for clip in test))
    return root


UCF = {"raw": "ucf101", "split": 1, "all_splits": [1, 2, 3]}


def test_split_table_follows_the_manifests_clips(tmp_path: Path) -> None:
    root = write_lists(tmp_path)
    clip_ids = pd.Series(["v_Diving_g03_c01", "v_Diving_g01_c01"])  # manifest order
    table = split_table("ucf51", UCF, root, clip_ids)
    assert table.to_dict("records") == [
        {"clip_id": "v_Diving_g03_c01", "split_1": "train", "split_2": "train", "split_3": "test"},
        {"clip_id": "v_Diving_g01_c01", "split_1": "test", "split_2": "train", "split_3": "train"},
    ]


@pytest.mark.parametrize(
    ("cfg", "clip_id", "message"),
    [
        ({**UCF, "raw": "ave"}, "v_Diving_g01_c01", r"only UCF101 has numbered splits"),
        ({**UCF, "split": 3, "all_splits": [1, 2]}, "v_Diving_g01_c01", r"must include"),
        (UCF, "v_Diving_g09_c01", r"clips in no split list: \['v_Diving_g09_c01'\]"),
        ({"raw": "ucf101", "split": 1}, "v_Diving_g01_c01", r"needs the key 'all_splits'"),
    ],
)
def test_split_table_refuses_what_it_cannot_build(tmp_path, cfg, clip_id, message) -> None:
    root = write_lists(tmp_path)
    with pytest.raises(ValueError, match=rf"datasets\.ucf51.*{message}"):
        split_table("ucf51", cfg, root, pd.Series([clip_id]))
