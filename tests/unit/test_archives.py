import io
import shutil
import tarfile
import zipfile

import pytest
from rar import rar_bytes

from avrepro.data.archives import ArchiveError, UnsafeArchiveError, extract

SPLITS = {
    "ucfTrainTestlist/classInd.txt": b"1 ApplyEyeMakeup\n2 ApplyLipstick\n",
    "ucfTrainTestlist/trainlist01.txt": b"ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\n",
    "ucfTrainTestlist/testlist01.txt": b"ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\n",
}
HEADER = b"label,youtube_id,time_start,time_end,split\n"
KINETICS = {
    f"kinetics400/{name}.csv": HEADER + f"abseiling,0347ZoDXyP0,14,24,{split}\n".encode()
    for name, split in [("train", "train"), ("validate", "val"), ("test", "test")]
}


def make_zip(path, members):
    with zipfile.ZipFile(path, "w") as zipped:
        for name, data in members.items():
            zipped.writestr(name, data)
    return path


def make_tar(path, members, links=()):
    """members: name -> bytes; links: (name, linkname) symlinks."""
    mode = {".gz": "w:gz", ".bz2": "w:bz2", ".xz": "w:xz"}.get(path.suffix, "w")
    with tarfile.open(path, mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, linkname in links:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, linkname
            tar.addfile(info)
    return path


def test_zip_in_the_ucf101_splits_layout(tmp_path):
    archive = make_zip(tmp_path / "splits.zip", SPLITS)
    files = extract(archive, tmp_path / "out")
    assert files == sorted(tmp_path / "out" / name for name in SPLITS)
    for name, data in SPLITS.items():
        assert (tmp_path / "out" / name).read_bytes() == data
    (tmp_path / "reference").mkdir()  # the target gets the mode of any new folder
    assert (tmp_path / "out").stat().st_mode == (tmp_path / "reference").stat().st_mode


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz", ".tar.bz2", ".tar.xz"])
def test_tar_in_the_kinetics_annotations_layout(tmp_path, suffix):
    archive = make_tar(tmp_path / f"kinetics400{suffix}", KINETICS)
    files = extract(archive, tmp_path / "out")
    assert [f.relative_to(tmp_path / "out").as_posix() for f in files] == sorted(KINETICS)
    assert (tmp_path / "out/kinetics400/validate.csv").read_bytes().endswith(b",val\n")


def test_a_link_inside_the_target_is_kept(tmp_path):
    archive = make_tar(tmp_path / "a.tar", KINETICS, links=[("kinetics400/latest", "train.csv")])
    extract(archive, tmp_path / "out")
    latest = tmp_path / "out/kinetics400/latest"
    assert latest.is_symlink()
    assert latest.read_bytes() == KINETICS["kinetics400/train.csv"]


def assert_nothing_written(tmp_path, archive):
    assert sorted(tmp_path.rglob("*")) == [archive]


@pytest.mark.parametrize("bad", ["../evil.txt", "ok/../../evil.txt", "/tmp/evil.txt"])
def test_zip_member_escaping_the_target_is_refused_before_writing(tmp_path, bad):
    archive = make_zip(tmp_path / "bad.zip", {**SPLITS, bad: b"pwned"})
    with pytest.raises(UnsafeArchiveError) as caught:
        extract(archive, tmp_path / "out")
    assert caught.value.member == bad
    assert bad in str(caught.value) and str(archive) in str(caught.value)
    assert_nothing_written(tmp_path, archive)


@pytest.mark.parametrize("bad", ["../evil.txt", "/tmp/evil.txt"])
def test_tar_member_escaping_the_target_is_refused_before_writing(tmp_path, bad):
    archive = make_tar(tmp_path / "bad.tar.gz", {**KINETICS, bad: b"pwned"})
    with pytest.raises(UnsafeArchiveError, match="refusing member"):
        extract(archive, tmp_path / "out")
    assert_nothing_written(tmp_path, archive)


@pytest.mark.parametrize("linkname", ["../../outside", "/etc/passwd"])
def test_tar_symlink_pointing_out_is_refused(tmp_path, linkname):
    archive = make_tar(tmp_path / "bad.tar", KINETICS, links=[("kinetics400/link", linkname)])
    with pytest.raises(UnsafeArchiveError) as caught:
        extract(archive, tmp_path / "out")
    assert caught.value.member == "kinetics400/link"
    assert_nothing_written(tmp_path, archive)


def test_extracts_beside_existing_entries_but_not_over_them(tmp_path):
    target = tmp_path / "root"
    (target / "downloads").mkdir(parents=True)
    extract(make_zip(tmp_path / "splits.zip", SPLITS), target)
    assert sorted(p.name for p in target.iterdir()) == ["downloads", "ucfTrainTestlist"]

    changed = make_zip(tmp_path / "changed.zip", {"ucfTrainTestlist/classInd.txt": b"other"})
    with pytest.raises(ArchiveError, match="already exists"):
        extract(changed, target)
    assert (target / "ucfTrainTestlist/classInd.txt").read_bytes() == SPLITS[
        "ucfTrainTestlist/classInd.txt"
    ]
    assert not any(p.name.endswith(".partial") for p in tmp_path.iterdir())


@pytest.mark.parametrize("name", ["broken.zip", "broken.tar.gz"])
def test_a_corrupt_archive_names_itself_and_leaves_nothing(tmp_path, name):
    archive = tmp_path / name
    archive.write_bytes(b"this is not an archive" * 10)
    with pytest.raises(ArchiveError, match=name):
        extract(archive, tmp_path / "out")
    assert_nothing_written(tmp_path, archive)


def test_a_truncated_tar_gz_leaves_nothing(tmp_path):
    whole = make_tar(tmp_path / "whole.tar.gz", {"big.bin": bytes(range(256)) * 4000}).read_bytes()
    archive = tmp_path / "cut.tar.gz"
    archive.write_bytes(whole[: len(whole) // 2])
    (tmp_path / "whole.tar.gz").unlink()
    with pytest.raises(ArchiveError, match="cut.tar.gz"):
        extract(archive, tmp_path / "out")
    assert_nothing_written(tmp_path, archive)


def test_missing_and_unsupported_archives(tmp_path):
    with pytest.raises(ArchiveError, match="no such archive"):
        extract(tmp_path / "absent.zip", tmp_path / "out")
    (tmp_path / "clip.7z").write_bytes(b"7z")
    with pytest.raises(ArchiveError, match="unsupported"):
        extract(tmp_path / "clip.7z", tmp_path / "out")


def test_rar_without_any_tool_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no extractor on it
    archive = tmp_path / "UCF101.rar"
    archive.write_bytes(b"Rar!\x1a\x07\x00")
    with pytest.raises(ArchiveError, match="apt-get install unar") as caught:
        extract(archive, tmp_path / "out")
    for binary in ("unrar", "unar", "bsdtar", "7z", "libarchive-tools"):
        assert binary in str(caught.value)
    assert_nothing_written(tmp_path, archive)


# Each extractor with the binaries it runs; a test puts only those on PATH.
RAR_TOOLS = {"unrar": ["unrar"], "unar": ["unar", "lsar"], "bsdtar": ["bsdtar"], "7z": ["7z"]}
INSTALLED_RAR_TOOLS = [
    tool for tool, binaries in RAR_TOOLS.items() if all(map(shutil.which, binaries))
]


@pytest.fixture(params=INSTALLED_RAR_TOOLS or [None])
def only_rar_tool(request, tmp_path, monkeypatch):
    """A PATH holding one installed RAR extractor and nothing else; one test per tool."""
    if request.param is None:
        pytest.skip("no RAR extractor installed (unrar, unar, bsdtar or 7z)")
    folder = tmp_path / "bin"
    folder.mkdir()
    for binary in RAR_TOOLS[request.param]:
        (folder / binary).symlink_to(shutil.which(binary))
    monkeypatch.setenv("PATH", str(folder))
    return request.param


def test_rar_in_the_ucf101_video_layout(tmp_path, only_rar_tool):
    members = {
        "UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi": b"avi" * 1000,
        "UCF-101/HandstandPushups/v_HandStandPushups_g01_c01.avi": b"avi 2",
    }
    archive = tmp_path / "UCF101.rar"
    archive.write_bytes(rar_bytes(members))
    files = extract(archive, tmp_path / "out")
    assert files == sorted(tmp_path / "out" / name for name in members)
    for name, data in members.items():
        assert (tmp_path / "out" / name).read_bytes() == data


def test_rar_member_escaping_the_target_is_refused_before_writing(tmp_path, only_rar_tool):
    archive = tmp_path / "bad.rar"
    archive.write_bytes(rar_bytes({"ok.txt": b"ok", "../evil.txt": b"pwned"}))
    with pytest.raises(UnsafeArchiveError) as caught:
        extract(archive, tmp_path / "out")
    assert caught.value.member == "../evil.txt"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.rar", "bin"]
