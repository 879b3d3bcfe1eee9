"""Injected faults: each damaged clip is recorded by the manifest or the media stage the
way a real broken download would be, while the split lists still list it."""

import shutil
from pathlib import Path

import pandas as pd
import pytest

from avrepro.data import faults, synthetic
from avrepro.data.faults import FAULTS_FILE, FaultSpecError, choose_faults, inject_faults
from avrepro.data.manifest import build_manifest
from avrepro.data.ucf101 import read_ucf101
from avrepro.media.audio import extract_audio
from avrepro.media.frames import read_frames, sample_tsn
from avrepro.media.probe import MediaError, clip_status

SPEC = {
    "seed": 5,
    "pairs": [
        {"classes": ["BoxingPunchingBag", "BoxingSpeedBag"], "share": "picture"},
        {"classes": ["CricketBowling", "CricketShot"], "share": "sound"},
    ],
    "clips_per_class": {"train": 2, "test": 1},
    "duration": 2.0,
    "fps": 10,
    "size": [32, 24],
    "audio_rate": 44100,
    "no_audio_fraction": 0.1,  # 1 of the 12 clips
}
FAULT_COUNTS = {"missing": 1, "empty": 1, "truncated": 1, "bad_audio": 1}
WRITERS = {"avi": synthetic.write_ucf101, "mp4": synthetic.write_kinetics}


@pytest.fixture(scope="module", params=sorted(WRITERS))
def written(request, tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """An intact synthetic dataset per container (UCF101's AVI, Kinetics' MP4)."""
    root = tmp_path_factory.mktemp(request.param) / "dataset"
    return root, WRITERS[request.param](root, SPEC, workers=2)


@pytest.fixture
def damaged(written, tmp_path) -> tuple[dict[str, Path], dict[str, Path]]:
    """({fault: damaged clip}, {fault: the intact original}) on a copy of the dataset."""
    root, clips = written
    copy = tmp_path / "dataset"
    shutil.copytree(root, copy)
    clips = clips.assign(path=[str(copy / Path(p).relative_to(root)) for p in clips["path"]])
    table = inject_faults(copy, clips, FAULT_COUNTS, seed=0)
    return (
        {row.fault: copy / row.path for row in table.itertuples()},
        {row.fault: root / row.path for row in table.itertuples()},
    )


def clips_table(n: int, silent: tuple[int, ...] = ()) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "clip_id": [f"clip{i}" for i in range(n)],
            "path": [f"/data/clip{i}.avi" for i in range(n)],
            "has_audio": [i not in silent for i in range(n)],
        }
    )


def test_choose_faults_gives_distinct_clips_with_audio_and_lists_the_silent_ones():
    table = choose_faults(clips_table(10, silent=(3, 7)), FAULT_COUNTS | {"empty": 2}, seed=1)
    assert table["fault"].value_counts().to_dict() == {
        "missing": 1, "empty": 2, "truncated": 1, "bad_audio": 1, "no_audio": 2
    }  # fmt: skip
    assert table["clip_id"].is_unique
    assert set(table.loc[table["fault"] == "no_audio", "clip_id"]) == {"clip3", "clip7"}


def test_choose_faults_is_deterministic_for_a_seed():
    clips = clips_table(40)
    first, again = (choose_faults(clips, FAULT_COUNTS, seed=2) for _ in range(2))
    pd.testing.assert_frame_equal(first, again)
    assert not choose_faults(clips, FAULT_COUNTS, seed=3).equals(first)


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ({"melted": 1}, "unknown fault"),
        ({"empty": -1}, "must not be negative"),
        ({"missing": 3, "empty": 3}, "only 5 clips have an audio track"),
    ],
)
def test_bad_fault_specs_are_refused(counts, message):
    with pytest.raises(FaultSpecError, match=message):
        choose_faults(clips_table(6, silent=(0,)), counts, seed=0)


def test_unknown_container_is_refused(tmp_path):
    clip = tmp_path / "clip.mkv"
    clip.write_bytes(b"\x1aE\xdf\xa3")
    with pytest.raises(FaultSpecError, match=r"clip\.mkv"):
        faults.audio_packet_spans(clip, clip.read_bytes())


def test_missing_and_empty_clips_get_their_manifest_status(damaged):
    clips, _ = damaged
    assert clip_status(clips["missing"])[0] == "missing"
    assert clip_status(clips["empty"])[0] == "empty"


def test_truncated_clip(damaged):
    clips, originals = damaged
    truncated = clips["truncated"]
    assert truncated.stat().st_size == originals["truncated"].stat().st_size // 2
    status, _, reason = clip_status(truncated)
    if truncated.suffix == ".mp4":
        # The moov box (the MP4's index) is written after the media data, and is lost.
        assert status == "corrupt" and "moov atom not found" in reason
    else:
        # An AVI's header comes first and survives: ffmpeg plays it up to the cut, so the
        # clip is usable, only shorter. Nothing downstream tells it from a short clip.
        assert status == "ok"
        assert 0 < len(read_frames(truncated, 24)) < len(read_frames(originals["truncated"], 24))


def test_bad_audio_keeps_its_header_but_fails_to_decode_while_video_decodes(damaged, tmp_path):
    clips, originals = damaged
    garbled = clips["bad_audio"]
    assert garbled.stat().st_size == originals["bad_audio"].stat().st_size
    status, info, _ = clip_status(garbled)
    assert status == "ok" and info.has_audio
    with pytest.raises(MediaError, match="audio"):
        extract_audio(garbled, tmp_path / "audio.wav", 22050)
    assert not (tmp_path / "audio.wav").exists()
    assert sample_tsn(garbled, 4, 24, 16).shape == (4, 16, 16, 3)


def test_no_audio_clip_has_no_audio_stream(damaged, tmp_path):
    clips, _ = damaged
    status, info, _ = clip_status(clips["no_audio"])
    assert status == "ok" and not info.has_audio
    assert extract_audio(clips["no_audio"], tmp_path / "audio.wav", 22050) is False


def test_synthetic_writer_injects_the_faults_of_its_spec_and_still_lists_the_clips(tmp_path):
    root = tmp_path / "ucf101"
    synthetic.write_ucf101(root, SPEC | {"faults": {"missing": 1, "bad_audio": 1}}, workers=2)
    recorded = pd.read_csv(root / FAULTS_FILE)
    assert sorted(recorded["fault"]) == ["bad_audio", "missing", "no_audio"]
    manifest = build_manifest(read_ucf101(root, 1), synthetic.paired_classes(SPEC))
    assert len(manifest) == 12  # the damaged clips are still listed
    status = manifest.set_index("clip_id")["status"]
    faulty = recorded.set_index("fault")["clip_id"]
    assert status[faulty["missing"]] == "missing"
    assert status[faulty["bad_audio"]] == "ok"
    assert (status.drop(faulty["missing"]) == "ok").all()
