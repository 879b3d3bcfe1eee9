"""Class-label readers for SAVLD: AudioSet's class_labels_indices.csv, Kinetics' label list,
UCF101's classInd.txt."""

from pathlib import Path

import pytest

from avrepro.data.audioset import read_audioset_labels, read_manifest_labels, split_camel_case
from avrepro.data.manifest import LayoutError
from avrepro.savld import DictionaryError, kinetics400_labels, video_vocabulary

LABELS = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "labels"


def fixture(name: str) -> Path:
    path = LABELS / name
    if not path.is_file():
        pytest.skip(f"label fixture {path} is absent (../shared/fixtures not checked out)")
    return path


def write(tmp_path: Path, text: str, name: str = "labels.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_audioset_fixture_has_527_names_in_index_order():
    names = read_audioset_labels(fixture("audioset_labels.csv"))
    assert len(names) == 527
    assert names[:3] == ["Speech", "Male speech, man speaking", "Female speech, woman speaking"]
    assert "Frying (food)" in names and "Bee, wasp, etc." in names


def test_audioset_quoted_commas_and_class_count(tmp_path):
    path = write(tmp_path, 'index,mid,display_name\n0,/m/a,"Speech"\n1,/m/b,"Bee, wasp, etc."\n')
    assert read_audioset_labels(path, expected=None) == ["Speech", "Bee, wasp, etc."]
    with pytest.raises(LayoutError, match="expected 527 classes, found 2"):
        read_audioset_labels(path)


@pytest.mark.parametrize(
    "text, message",
    [
        ("mid,display_name\n/m/a,Speech\n", "header"),
        ("", "header"),
        ("index,mid,display_name\n0,/m/a,Speech,extra\n", ":2: expected"),
        ("index,mid,display_name\n0,/m/a,Speech\n2,/m/b,Music\n", ":3: expected class index 1"),
        ("index,mid,display_name\n0,/m/a,\n", ":2: expected"),
    ],
)
def test_audioset_malformed_files_are_refused(tmp_path, text, message):
    with pytest.raises(LayoutError, match=message):
        read_audioset_labels(write(tmp_path, text), expected=None)


def test_kinetics400_labels_are_the_published_list():
    """torchvision's list is mmaction2's label_map_k400.txt, line for line."""
    published = fixture("k400_labels.txt").read_text().split("\n")
    assert kinetics400_labels() == [line for line in published if line]


def test_vocabulary_is_all_of_kinetics_or_the_manifest(tmp_path):
    manifest = write(tmp_path, "clip_id,label\na,tickling\nb,abseiling\nc,tickling\n")
    labels = read_manifest_labels(manifest)
    assert labels == ["abseiling", "tickling"]
    assert video_vocabulary("manifest", labels) == labels
    assert len(video_vocabulary("kinetics400", labels)) == 400
    with pytest.raises(DictionaryError, match="not Kinetics-400's"):
        video_vocabulary("kinetics400", ["juggling kittens"])


@pytest.mark.parametrize(
    "name, words",
    [
        ("ApplyEyeMakeup", "Apply Eye Makeup"),
        ("YoYo", "Yo Yo"),
        ("Skijet", "Skijet"),
        ("playing bass guitar", "playing bass guitar"),
        ("UK garage", "UK garage"),
    ],
)
def test_split_camel_case(name, words):
    assert split_camel_case(name) == words


def test_manifest_labels_are_the_distinct_sorted_labels(tmp_path):
    path = write(
        tmp_path,
        "clip_id,path,label,split\na,x,playing guitar,train\nb,x,NA,test\nc,x,playing guitar,val\n",
    )
    assert read_manifest_labels(path) == ["NA", "playing guitar"]
    with pytest.raises(LayoutError, match="no clip"):
        read_manifest_labels(write(tmp_path, "clip_id,path,label,split\n", "empty.csv"))
