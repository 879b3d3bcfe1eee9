import hashlib
import io
import subprocess
import tarfile
import zipfile

import pandas as pd
import pytest
from httpserver import RequestLog, serve

from avrepro.data.acquire import (
    AcquisitionError,
    acquire_kinetics_annotations,
    acquire_kinetics_videos,
    acquire_ucf101,
)
from avrepro.media.ffmpeg import ffmpeg_binary

VIDEOS = {
    "UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi": b"avi 1",
    "UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c02.avi": b"avi 2",
    "UCF-101/HandstandPushups/v_HandStandPushups_g01_c01.avi": b"avi 3",
}
SPLITS = {
    "ucfTrainTestlist/classInd.txt": b"1 ApplyEyeMakeup\r\n2 HandstandPushups\r\n",
    "ucfTrainTestlist/trainlist01.txt": b"ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi 1\r\n",
    "ucfTrainTestlist/testlist01.txt": b"ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c02.avi\r\n",
}
HEADER = "label,youtube_id,time_start,time_end,split\n"
KINETICS = {
    "train.csv": HEADER + "abseiling,aaaaaaaaaaa,10,20,train\n",
    "validate.csv": HEADER
    + "bowling,present0001,1,3,val\n"
    + "bowling,vanished001,1,3,val\n"
    + "playing piano,present0002,1,3,val\n"
    + "abseiling,notwanted01,1,3,val\n",
    "test.csv": HEADER + "abseiling,ccccccccccc,0,10,test\n",
}


def zip_bytes(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for name, data in members.items():
            zipped.writestr(name, data)
    return buffer.getvalue()


def tar_gz_bytes(members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    return buffer.getvalue()


def ucf_config(url, video_archive):
    return {
        "video_archive": {"url": f"{url}/UCF101.zip", "sha256": sha256(video_archive)},
        "splits_archive": {"url": f"{url}/splits.zip", "sha256": None},
    }


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# UCF101 ships its videos as a .rar; a zip in the same layout takes the same path through
# acquire_ucf101 (extract() picks the unpacker by suffix) without needing a RAR tool here.
def test_ucf101_in_the_workflow_layout_and_not_fetched_twice(tmp_path):
    videos, splits = zip_bytes(VIDEOS), zip_bytes(SPLITS)
    log = RequestLog()
    with serve({"/UCF101.zip": videos, "/splits.zip": splits}, log=log) as url:
        acquire_ucf101(ucf_config(url, videos), tmp_path)
        acquire_ucf101(ucf_config(url, videos), tmp_path)
    assert log.count("/UCF101.zip") == 1 and log.count("/splits.zip") == 1
    for name, data in {**VIDEOS, **SPLITS}.items():
        assert (tmp_path / name).read_bytes() == data
    assert (tmp_path / ".complete").read_text() == "classes 2\nvideos 3\n"
    assert sorted(p.name for p in (tmp_path / "downloads").iterdir()) == [
        "UCF101.zip",
        "splits.zip",
    ]


def test_ucf101_finds_its_folders_however_deep_the_archive_wraps_them(tmp_path):
    videos = zip_bytes({f"UCF101/{name}": data for name, data in VIDEOS.items()})
    splits = zip_bytes({f"RecognitionTask/{name}": data for name, data in SPLITS.items()})
    with serve({"/UCF101.zip": videos, "/splits.zip": splits}) as url:
        acquire_ucf101(ucf_config(url, videos), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".complete",
        "UCF-101",
        "downloads",
        "ucfTrainTestlist",
    ]
    assert (tmp_path / "ucfTrainTestlist/classInd.txt").read_bytes() == SPLITS[
        "ucfTrainTestlist/classInd.txt"
    ]


def test_ucf101_archive_without_videos_fails_and_is_not_complete(tmp_path):
    videos = zip_bytes({"README.txt": b"nothing here"})
    with serve({"/UCF101.zip": videos, "/splits.zip": zip_bytes(SPLITS)}) as url:
        with pytest.raises(AcquisitionError, match="UCF101.zip: no folder with class folders"):
            acquire_ucf101(ucf_config(url, videos), tmp_path)
    assert not (tmp_path / "UCF-101").exists()
    assert not (tmp_path / ".complete").exists()


def test_ucf101_config_without_a_url_names_the_key(tmp_path):
    with pytest.raises(AcquisitionError, match="'splits_archive'"):
        acquire_ucf101({"video_archive": {"url": "http://x/a.zip"}}, tmp_path / "ucf")


def test_kinetics_annotations_from_the_deepmind_archive(tmp_path):
    archive = tar_gz_bytes({f"kinetics400/{name}": text for name, text in KINETICS.items()})
    with serve({"/kinetics400.tar.gz": archive}) as url:
        cfg = {"annotations": {"url": f"{url}/kinetics400.tar.gz", "sha256": sha256(archive)}}
        annotations = acquire_kinetics_annotations(cfg, tmp_path)
    assert annotations == tmp_path / "annotations"
    assert sorted(p.name for p in annotations.iterdir()) == sorted(KINETICS)
    for name, text in KINETICS.items():
        assert (annotations / name).read_text() == text
    assert [p.name for p in (tmp_path / "downloads").iterdir()] == ["kinetics400.tar.gz"]


def test_kinetics_annotations_from_one_url_per_csv(tmp_path):
    routes = {f"/{name}": text.encode() for name, text in KINETICS.items()}
    with serve(routes) as url:
        cfg = {"annotations": {name[:-4]: {"url": f"{url}/{name}"} for name in KINETICS}}
        annotations = acquire_kinetics_annotations(cfg, tmp_path)
    for name, text in KINETICS.items():
        assert (annotations / name).read_text() == text


def test_kinetics_annotations_with_wrong_columns_name_the_file(tmp_path):
    routes = {f"/{name}": b"youtube_id,label\nabc,bowling\n" for name in KINETICS}
    with serve(routes) as url:
        cfg = {"annotations": {name[:-4]: {"url": f"{url}/{name}"} for name in KINETICS}}
        with pytest.raises(AcquisitionError, match=r"train\.csv: expected columns"):
            acquire_kinetics_annotations(cfg, tmp_path)
    assert not (tmp_path / "annotations" / "train.csv").exists()


@pytest.fixture
def kinetics_root(tmp_path):
    annotations = tmp_path / "kinetics400" / "annotations"
    annotations.mkdir(parents=True)
    for name, text in KINETICS.items():
        (annotations / name).write_text(text)
    return tmp_path / "kinetics400"


@pytest.fixture
def served_videos(tmp_path):
    """A folder holding a 4 s clip for each id that is still online."""
    folder = tmp_path / "youtube"
    folder.mkdir()
    lavfi = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-f", "lavfi", "-i", "sine=440"]
    codecs = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"]
    clip = folder / "present0001.mp4"
    subprocess.run([ffmpeg_binary(), "-v", "error", *lavfi, "-t", "4", *codecs, clip], check=True)
    (folder / "present0002.mp4").write_bytes(clip.read_bytes())
    return folder


def test_kinetics_videos_a_vanished_one_is_a_row_not_a_crash(kinetics_root, served_videos):
    log = RequestLog()
    with serve(served_videos, log=log) as url:
        status = acquire_kinetics_videos(
            kinetics_root / "annotations",
            kinetics_root,
            ["bowling", "playing piano"],
            "val",
            workers=2,
            url_template=f"{url}/{{youtube_id}}.mp4",
        )
        requests_after_first_run = log.count("/present0001.mp4")
        again = acquire_kinetics_videos(
            kinetics_root / "annotations",
            kinetics_root,
            ["bowling", "playing piano"],
            "val",
            workers=2,
            url_template=f"{url}/{{youtube_id}}.mp4",
        )

    assert list(status.columns) == ["youtube_id", "label", "status", "reason"]
    assert list(status["youtube_id"]) == ["present0001", "vanished001", "present0002"]
    assert list(status["status"]) == ["ok", "missing", "ok"]
    assert "404" in status.loc[1, "reason"]
    assert (kinetics_root / "val/bowling/present0001_000001_000003.mp4").stat().st_size > 0
    assert (kinetics_root / "val/playing piano/present0002_000001_000003.mp4").exists()
    assert not (kinetics_root / "val/bowling/vanished001_000001_000003.mp4").exists()
    assert not (kinetics_root / "val/abseiling").exists()  # not a requested class
    written = pd.read_csv(kinetics_root / "download_status/val.csv", keep_default_na=False)
    pd.testing.assert_frame_equal(written, status)

    # The second run skips the clips on disk and asks again only for the vanished one.
    assert log.count("/present0001.mp4") == requests_after_first_run
    assert log.count("/vanished001.mp4") == 2
    pd.testing.assert_frame_equal(again, status)


def test_kinetics_videos_reject_a_class_the_split_does_not_have(kinetics_root):
    with pytest.raises(AcquisitionError, match="'playing bowling'"):
        acquire_kinetics_videos(
            kinetics_root / "annotations", kinetics_root, ["playing bowling"], "val", workers=1
        )
