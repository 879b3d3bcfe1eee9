import hashlib
import io
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from httpserver import RequestLog, serve
from rar import rar_bytes

from avrepro.data import download
from avrepro.data.acquire import (
    AcquisitionError,
    acquire_ave,
    acquire_dcase,
    acquire_kinetics_annotations,
    acquire_kinetics_videos,
    acquire_mit,
    acquire_ucf101,
)
from avrepro.data.archives import UnsafeArchiveError
from avrepro.data.ave import read_ave
from avrepro.data.dcase import read_dcase
from avrepro.data.download import ChecksumError, DownloadError
from avrepro.data.mit import read_mit
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
    with pytest.raises(AcquisitionError, match=r"'raw\.ucf101\.splits_archive' needs a url"):
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

    assert list(status.columns) == ["clip_id", "youtube_id", "label", "status", "reason"]
    assert status.loc[1, "clip_id"] == "vanished001_000001_000003"  # the manifest's clip_id
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


RAR_EXTRACTORS = [tool for tool in ("unrar", "unar", "bsdtar", "7z") if shutil.which(tool)]


@pytest.mark.skipif(not RAR_EXTRACTORS, reason="no RAR extractor (unrar, unar, bsdtar or 7z)")
def test_ucf101_from_the_rar_it_ships_as(tmp_path):
    videos = rar_bytes(VIDEOS)
    with serve({"/UCF101.rar": videos, "/splits.zip": zip_bytes(SPLITS)}) as url:
        cfg = ucf_config(url, videos)
        cfg["video_archive"]["url"] = f"{url}/UCF101.rar"
        acquire_ucf101(cfg, tmp_path)
    for name, data in VIDEOS.items():
        assert (tmp_path / name).read_bytes() == data
    assert (tmp_path / ".complete").read_text() == "classes 2\nvideos 3\n"


@pytest.fixture
def no_backoff(monkeypatch):
    monkeypatch.setattr(download, "BACKOFF_S", 0.0)


def md5(data):
    return hashlib.md5(data).hexdigest()


# AVE_Dataset.zip: one folder holding the videos, the annotations and the split lists.
AVE_HEADER = "Category&VideoID&Quality&StartTime&EndTime\n"
AVE_LISTS = {
    "Annotations.txt": AVE_HEADER
    + "Church bell&RUhOCu3LNXM&good&0&10\nUkulele&-1qyr-IzqKY&good&0&10\n"
    + "Accordion&-1qyr-IzqKY&good&2&9\n",
    "trainSet.txt": AVE_HEADER + "Church bell&RUhOCu3LNXM&good&0&10\n",
    "valSet.txt": AVE_HEADER + "Ukulele&-1qyr-IzqKY&good&0&10\n",
    "testSet.txt": AVE_HEADER + "Accordion&-1qyr-IzqKY&good&2&9\n",
}
AVE_MEMBERS = {
    "AVE_Dataset/AVE/RUhOCu3LNXM.mp4": b"mp4 1",
    "AVE_Dataset/AVE/-1qyr-IzqKY.mp4": b"mp4 2",
    "AVE_Dataset/ReadMe.txt": b"AVE dataset",
    **{f"AVE_Dataset/{name}": text.encode() for name, text in AVE_LISTS.items()},
}


def test_ave_in_the_archive_layout_and_not_fetched_twice(tmp_path):
    archive = zip_bytes(AVE_MEMBERS)
    log = RequestLog()
    # Google Drive URLs name no file; the archive is saved under its own name all the same.
    with serve({"/uc": archive}, log=log) as url:
        cfg = {
            "archive": {
                "url": f"{url}/uc?id=1FjKwe79e0u96vdjIVwfRQ1V6SoDHe7kK",
                "md5": md5(archive),
            }
        }
        acquire_ave(cfg, tmp_path)
        acquire_ave(cfg, tmp_path)
    assert log.count("/uc") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".complete", "AVE", "downloads", *AVE_LISTS]
    )
    assert (tmp_path / "AVE/-1qyr-IzqKY.mp4").read_bytes() == b"mp4 2"
    assert [p.name for p in (tmp_path / "downloads").iterdir()] == ["AVE_Dataset.zip"]
    assert (tmp_path / ".complete").read_text() == "annotations 3\nvideos 2\n"
    assert list(read_ave(tmp_path)["split"]) == ["train", "val", "test"]


def test_ave_checksum_mismatch_leaves_no_dataset(tmp_path):
    with serve({"/AVE_Dataset.zip": zip_bytes(AVE_MEMBERS)}) as url:
        cfg = {"archive": {"url": f"{url}/AVE_Dataset.zip", "md5": "0" * 32}}
        with pytest.raises(ChecksumError, match="md5"):
            acquire_ave(cfg, tmp_path)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["downloads"]


def test_ave_archive_without_split_lists_fails_and_is_not_complete(tmp_path):
    members = {k: v for k, v in AVE_MEMBERS.items() if not k.endswith("valSet.txt")}
    with serve({"/AVE_Dataset.zip": zip_bytes(members)}) as url:
        with pytest.raises(AcquisitionError, match=r"\['valSet.txt'\] missing"):
            acquire_ave({"archive": {"url": f"{url}/AVE_Dataset.zip"}}, tmp_path)
    assert not (tmp_path / "AVE").exists()
    assert not (tmp_path / ".complete").exists()


def test_ave_archive_with_a_path_escaping_member_is_refused(tmp_path):
    members = {**AVE_MEMBERS, "AVE_Dataset/../../evil.txt": b"pwned"}
    with serve({"/AVE_Dataset.zip": zip_bytes(members)}) as url:
        with pytest.raises(UnsafeArchiveError, match="evil.txt"):
            acquire_ave({"archive": {"url": f"{url}/AVE_Dataset.zip"}}, tmp_path / "ave")
    assert not (tmp_path / "evil.txt").exists()
    assert sorted(p.name for p in (tmp_path / "ave").iterdir()) == ["downloads"]


def test_ave_config_naming_two_digests_is_refused(tmp_path):
    cfg = {"archive": {"url": "http://127.0.0.1:1/a.zip", "sha256": "a" * 64, "md5": "b" * 32}}
    with pytest.raises(AcquisitionError, match="'archive': give a sha256 or an md5, not both"):
        acquire_ave(cfg, tmp_path)


# TAU Urban Audio-Visual Scenes 2021: a meta zip and numbered audio and video zips, each
# wrapping its content in the dataset's folder.
DCASE = "TAU-urban-audio-visual-scenes-2021-development"
DCASE_HEADER = "filename_audio\tfilename_video\tscene_label\n"
DCASE_STEMS = {
    "train": ["airport-lyon-1095-40158", "bus-prague-1090-40149"],
    "test": ["park-helsinki-241-7111"],
}


def dcase_list(stems):
    return DCASE_HEADER + "".join(
        f"audio/{s}.wav\tvideo/{s}.mp4\t{s.split('-')[0]}\n" for s in stems
    )


DCASE_PARTS = {
    f"{DCASE}.meta.zip": {
        f"{DCASE}/evaluation_setup/fold1_train.csv": dcase_list(DCASE_STEMS["train"]).encode(),
        f"{DCASE}/evaluation_setup/fold1_evaluate.csv": dcase_list(DCASE_STEMS["test"]).encode(),
        f"{DCASE}/meta.csv": b"filename_audio\tfilename_video\tscene_label\tidentifier\n",
    },
    f"{DCASE}.audio.1.zip": {
        f"{DCASE}/audio/airport-lyon-1095-40158.wav": b"wav 1",
        f"{DCASE}/audio/bus-prague-1090-40149.wav": b"wav 2",
    },
    f"{DCASE}.audio.2.zip": {f"{DCASE}/audio/park-helsinki-241-7111.wav": b"wav 3"},
    f"{DCASE}.video.1.zip": {
        f"{DCASE}/video/{stem}.mp4": b"mp4 " + stem.encode()
        for stems in DCASE_STEMS.values()
        for stem in stems
    },
}


@pytest.fixture
def dcase_parts():
    return {f"/{name}": zip_bytes(members) for name, members in DCASE_PARTS.items()}


def dcase_config(url, parts):
    return {"archives": [{"url": f"{url}{path}", "md5": md5(data)} for path, data in parts.items()]}


def test_dcase_parts_merge_into_one_tree_and_are_not_fetched_twice(tmp_path, dcase_parts):
    log = RequestLog()
    with serve(dcase_parts, log=log) as url:
        acquire_dcase(dcase_config(url, dcase_parts), tmp_path)
        acquire_dcase(dcase_config(url, dcase_parts), tmp_path)
    assert all(log.count(path) == 1 for path in dcase_parts)
    tree = [".complete", "audio", "downloads", "evaluation_setup", "meta.csv", "video"]
    assert sorted(p.name for p in tmp_path.iterdir()) == tree
    assert (tmp_path / "audio/park-helsinki-241-7111.wav").read_bytes() == b"wav 3"
    # Each part is deleted once unpacked; its marker says it need not be fetched again.
    assert sorted(p.name for p in (tmp_path / "downloads").iterdir()) == sorted(
        f"{name}.unpacked" for name in DCASE_PARTS
    )
    assert (tmp_path / ".complete").read_text() == "clips 3\naudio 3\nvideo 3\n"
    clips = read_dcase(tmp_path)
    assert list(clips["split"]) == ["train", "train", "test"]
    assert all(Path(p).is_file() for p in [*clips["path"], *clips["audio_path"]])


def test_dcase_a_missing_part_fails_and_a_rerun_fetches_only_what_is_left(tmp_path, dcase_parts):
    log = RequestLog()
    video = f"/{DCASE}.video.1.zip"
    with serve(dcase_parts, fail={video: 404}, log=log) as url:
        with pytest.raises(DownloadError, match="HTTP 404"):
            acquire_dcase(dcase_config(url, dcase_parts), tmp_path)
    assert not (tmp_path / ".complete").exists()
    assert not (tmp_path / "video").exists()
    with serve(dcase_parts, log=log) as url:
        acquire_dcase(dcase_config(url, dcase_parts), tmp_path)
    assert log.count(video) == 2
    assert all(log.count(path) == 1 for path in dcase_parts if path != video)
    assert (tmp_path / ".complete").exists()


def test_dcase_a_server_error_is_retried_then_fails(tmp_path, dcase_parts, no_backoff):
    log = RequestLog()
    meta = f"/{DCASE}.meta.zip"
    with serve(dcase_parts, fail={meta: 500}, log=log) as url:
        with pytest.raises(DownloadError, match="HTTP 500"):
            acquire_dcase(dcase_config(url, dcase_parts), tmp_path)
    assert log.count(meta) == 4  # the first attempt and three retries
    assert not (tmp_path / ".complete").exists()


def test_dcase_a_truncated_part_is_resumed_by_the_next_run(tmp_path, dcase_parts, no_backoff):
    log = RequestLog()
    audio = f"/{DCASE}.audio.1.zip"
    with serve(dcase_parts, truncate={audio: 50}, log=log) as url:
        with pytest.raises(DownloadError, match="truncated"):
            acquire_dcase(dcase_config(url, dcase_parts), tmp_path)
    # Four attempts of 50 bytes each, every retry resuming where the last one stopped.
    assert log.ranges(audio) == [None, "bytes=50-", "bytes=100-", "bytes=150-"]
    assert (tmp_path / "downloads" / f"{audio[1:]}.part").stat().st_size == 200
    with serve(dcase_parts, log=log) as url:
        acquire_dcase(dcase_config(url, dcase_parts), tmp_path)
    assert log.ranges(audio)[-1] == "bytes=200-"
    assert (tmp_path / "audio/airport-lyon-1095-40158.wav").read_bytes() == b"wav 1"


def test_dcase_md5_mismatch_is_an_error_and_unpacks_nothing(tmp_path, dcase_parts):
    with serve(dcase_parts) as url:
        cfg = dcase_config(url, dcase_parts)
        cfg["archives"][1]["md5"] = "f" * 32  # audio.1
        with pytest.raises(ChecksumError, match=f"{DCASE}.audio.1.zip"):
            acquire_dcase(cfg, tmp_path)
    assert not (tmp_path / "audio").exists()
    assert not (tmp_path / "downloads" / f"{DCASE}.audio.1.zip").exists()


def test_dcase_config_needs_a_list_of_archives(tmp_path):
    with pytest.raises(AcquisitionError, match="'archives' needs a list"):
        acquire_dcase({"archives": []}, tmp_path)
    with pytest.raises(AcquisitionError, match=r"'archives\[1\]' needs a url"):
        acquire_dcase({"archives": [{"url": "http://x/a.zip"}, {"md5": "0" * 32}]}, tmp_path)


MIT = "Moments_in_Time_Mini"
MIT_MEMBERS = {
    f"{MIT}/moments_categories.txt": b"bicycling,0\ndancing,1\n",
    f"{MIT}/trainingSet.csv": b"dancing/yt-a_1.mp4,dancing,3,0\n"
    + b"bicycling/yt-b_2.mp4,bicycling,2,1\n",
    f"{MIT}/validationSet.csv": b"dancing/yt-c_3.mp4,dancing,3,0\n",
    f"{MIT}/training/dancing/yt-a_1.mp4": b"mp4 a",
    f"{MIT}/training/bicycling/yt-b_2.mp4": b"mp4 b",
    f"{MIT}/validation/dancing/yt-c_3.mp4": b"mp4 c",
    f"{MIT}/README.txt": b"Moments in Time",
}


@pytest.mark.parametrize("cfg", [{}, {"archive": {"url": None, "sha256": None}}])
def test_mit_without_a_url_says_how_to_get_one(tmp_path, cfg):
    with pytest.raises(AcquisitionError, match="moments.csail.mit.edu") as caught:
        acquire_mit(cfg, tmp_path)
    assert "raw.moments_mini.archive.url" in str(caught.value)
    assert not tmp_path.joinpath("downloads").exists()


def test_mit_in_the_archive_layout(tmp_path):
    archive = zip_bytes(MIT_MEMBERS)
    log = RequestLog()
    with serve({"/mini.zip": archive}, log=log) as url:
        cfg = {"archive": {"url": f"{url}/mini.zip", "sha256": sha256(archive)}}
        acquire_mit(cfg, tmp_path)
        acquire_mit(cfg, tmp_path)
    assert log.count("/mini.zip") == 1
    lists = ["moments_categories.txt", "trainingSet.csv", "validationSet.csv"]
    tree = [".complete", "downloads", *lists, "training", "validation"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(tree)
    assert (tmp_path / "validation/dancing/yt-c_3.mp4").read_bytes() == b"mp4 c"
    assert (tmp_path / ".complete").read_text() == "clips 3\nvideos 3\n"
    assert list(read_mit(tmp_path)["split"]) == ["train", "train", "test"]


def test_mit_archive_with_a_path_escaping_member_is_refused(tmp_path):
    members = {**MIT_MEMBERS, "/etc/evil.txt": b"pwned"}
    with serve({"/mini.zip": zip_bytes(members)}) as url:
        with pytest.raises(UnsafeArchiveError, match="absolute path"):
            acquire_mit({"archive": {"url": f"{url}/mini.zip"}}, tmp_path)
    assert not (tmp_path / "training").exists()
