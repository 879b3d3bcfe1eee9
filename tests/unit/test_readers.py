"""Dataset configs to readers: each raw dataset's reader with its split settings, and the
UCF101 table of every clip's role in several official splits."""


import pytest

from avrepro.data import readers
from avrepro.data.readers import read_listed


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
