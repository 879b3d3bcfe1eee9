"""Datasets already on disk (acquire: local): the layout checked before any job, the folder
linked and never written into, missing clips counted and named, and a configuration that
cannot run rejected by validation with its full key."""

import os
import shutil
from pathlib import Path

import pytest
import yaml

from avrepro.config import ConfigError, validate_config
from avrepro.data import local

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
CLASSES = ["ApplyEyeMakeup", "Archery"]  # classInd's 1 and 3


def ucf101_folder(root: Path, clip: Path, missing: int = 0, flat: bool = False) -> Path:
    """A UCF101-layout folder: two classes, their official list lines, one real clip a
    list line (the last `missing` of them left out; `flat`: all in UCF-101/ itself, not
    in their class folders)."""
    lists, videos = root / "ucfTrainTestlist", root / "UCF-101"
    lists.mkdir(parents=True)
    names = [f"v_{c}_g0{g}_c01.avi" for c in CLASSES for g in (1, 2)]
    (lists / "classInd.txt").write_text("1 ApplyEyeMakeup\r\n2 ApplyLipstick\r\n3 Archery\r\n")
    index = {"ApplyEyeMakeup": 1, "Archery": 3}
    train = [f"{n.split('_')[1]}/{n} {index[n.split('_')[1]]}" for n in names if "g01" in n]
    (lists / "trainlist01.txt").write_text("\r\n".join(train) + "\r\n")
    test = [f"{n.split('_')[1]}/{n}" for n in names if "g02" in n]
    (lists / "testlist01.txt").write_text("\r\n".join(test) + "\r\n")
    for name in names[: len(names) - missing]:
        folder = videos if flat else videos / name.split("_")[1]
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(clip, folder / name)
    return root


def tree(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime for p in sorted(root.rglob("*"))}


@pytest.fixture
def clip(fixtures_dir) -> Path:
    return fixtures_dir / "clips" / "test.avi"


def test_layout_errors_name_what_the_folder_lacks(tmp_path):
    assert local.layout_errors("ucf101", tmp_path / "nowhere") == [
        f"{tmp_path / 'nowhere'} is not a folder"]
    (tmp_path / "UCF-101").mkdir()
    (errors,) = local.layout_errors("ucf101", tmp_path)
    assert errors.endswith("lacks ucfTrainTestlist/classInd.txt")
    (errors,) = local.layout_errors("ave", tmp_path)
    assert "AVE/, Annotations.txt, trainSet.txt, valSet.txt, testSet.txt" in errors


def test_the_folder_is_linked_and_never_written_into(tmp_path, clip):
    source = ucf101_folder(tmp_path / "mine", clip)
    before = tree(source)
    root = tmp_path / "resources" / "ucf101"
    assert local.link_local("ucf101", source, root) == ["UCF-101", "ucfTrainTestlist"]
    assert (root / "UCF-101").resolve() == (source / "UCF-101").resolve()
    lines = local.check_clips("ucf101", {"ucf51": dataset()}, root)
    assert lines == ["datasets.ucf51: all 4 listed clips are on disk"]
    (root / ".complete").write_text("done")  # the workflow's own file, beside the links
    assert local.link_local("ucf101", source, root)  # a rerun replaces its links
    assert tree(source) == before


def test_links_from_an_earlier_path_are_replaced(tmp_path, clip):
    first = ucf101_folder(tmp_path / "first", clip)
    second = ucf101_folder(tmp_path / "second", clip)
    root = tmp_path / "resources"
    local.link_local("ucf101", first, root)
    local.link_local("ucf101", second, root)
    assert os.readlink(root / "UCF-101") == str((second / "UCF-101").resolve())


def test_a_download_already_there_is_not_overwritten(tmp_path, clip):
    source = ucf101_folder(tmp_path / "mine", clip)
    root = tmp_path / "resources"
    (root / "UCF-101").mkdir(parents=True)
    with pytest.raises(local.LocalDatasetError, match=r"already holds \['UCF-101'\]"):
        local.link_local("ucf101", source, root)


def test_missing_clips_are_counted_and_named(tmp_path, clip):
    root = tmp_path / "resources"
    local.link_local("ucf101", ucf101_folder(tmp_path / "mine", clip, missing=1), root)
    (line,) = local.check_clips("ucf101", {"ucf51": dataset()}, root)
    assert line.startswith("datasets.ucf51: 1 of the 4 listed clips' files are missing")
    assert line.endswith("UCF-101/Archery/v_Archery_g02_c01.avi")


def test_a_layout_holding_none_of_the_clips_is_an_error(tmp_path, clip):
    root = tmp_path / "resources"
    local.link_local("ucf101", ucf101_folder(tmp_path / "mine", clip, flat=True), root)
    with pytest.raises(local.LocalDatasetError, match=r"'raw\.ucf101\.path': none of the clips"):
        local.check_clips("ucf101", {"ucf51": dataset()}, root)


def test_a_list_file_a_dataset_needs_is_named(tmp_path, clip):
    root = tmp_path / "resources"
    local.link_local("ucf101", ucf101_folder(tmp_path / "mine", clip), root)
    with pytest.raises(local.LocalDatasetError, match=r"datasets\.ucf51 needs .*trainlist02\.txt"):
        local.check_clips("ucf101", {"ucf51": {**dataset(), "split": 2}}, root)


def dataset() -> dict:
    return {"raw": "ucf101", "split": 1, "classes": CLASSES, "n_shards": 1}


def smoke_config() -> dict:
    return yaml.safe_load((REPO / "tests" / "smoke" / "config.yaml").read_text())


def test_validation_checks_a_local_folder_before_any_job(tmp_path, clip):
    config = smoke_config()
    config["raw"]["ucf101"] = {"acquire": "local", "path": str(tmp_path / "missing")}
    with pytest.raises(ConfigError, match=r"'raw\.ucf101\.path': .*missing is not a folder"):
        validate_config(config, SCHEMA)
    config["raw"]["ucf101"]["path"] = str(ucf101_folder(tmp_path / "mine", clip))
    validate_config(config, SCHEMA)


@pytest.mark.parametrize(
    ("raw", "entry", "message"),
    [
        ("ucf101", {"acquire": "download"}, r"'raw\.ucf101': 'video_archive' is a required"),
        ("ucf101", {"acquire": "local"}, r"'raw\.ucf101': 'path' is a required property"),
        ("kinetics400", {"acquire": "download"}, r"'raw\.kinetics400': 'annotations' is a"),
        ("ave", {"acquire": "download"}, r"'raw\.ave': 'archive' is a required"),
        ("dcase2021", {"acquire": "local"}, r"'raw\.dcase2021': 'path' is a required"),
    ],
)
def test_a_configuration_that_cannot_run_is_rejected(raw, entry, message):
    """A copied smoke config switched to another acquisition, its keys left behind."""
    config = smoke_config()
    config["raw"][raw] = {**config["raw"][raw], **entry}
    with pytest.raises(ConfigError, match=message):
        validate_config(config, SCHEMA)
