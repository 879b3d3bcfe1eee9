import subprocess
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from clips import make_clip

from avrepro.media.audio import load_wav
from avrepro.media.audio_index import AUDIO_INDEX_COLUMNS
from avrepro.media.ffmpeg import ffmpeg_binary
from avrepro.media.frame_store import FrameStore, encode_jpeg
from avrepro.media.frames import sample_fps, sample_tsn
from avrepro.media.shards import (
    FRAMES_INDEX_COLUMNS,
    extract_audio_shard,
    sample_frames_shard,
)


def as_stored(frames: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) frames as a frames shard gives them back: each a JPEG round trip."""
    return np.stack([cv2.imdecode(np.frombuffer(encode_jpeg(f), np.uint8), cv2.IMREAD_COLOR_RGB)
                     for f in frames])


TSN_SPEC = {"sampler": "tsn", "segments": 3, "short_side": 32, "crop": 24}
CLIPS_SPEC = {"sampler": "clips", "clips": 4, "frames_per_clip": 2, "short_side": 32, "crop": 24}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """A hand-written manifest over synthesized clips, one row per case a shard meets."""
    folder = tmp_path_factory.mktemp("clips")
    with_audio = make_clip(folder / "av.mp4", audio=True)
    silent = make_clip(folder / "silent.mp4", audio=False)
    truncated = folder / "truncated.mp4"
    # Cut after the manifest was written: the manifest still says "ok". ffmpeg writes the
    # MP4 index (moov atom) last, so the first half of the file has none.
    truncated.write_bytes(with_audio.read_bytes()[: with_audio.stat().st_size // 2])
    empty = folder / "empty.mp4"
    empty.touch()
    rows = [
        # clip_id, path, has_audio, status, reason
        ("av", with_audio, True, "ok", ""),
        ("silent", silent, False, "ok", ""),
        ("mislabelled", silent, True, "ok", ""),  # the manifest wrongly claims a track
        ("truncated", truncated, True, "ok", ""),
        ("empty", empty, None, "empty", "empty file (0 bytes)"),
        ("gone", folder / "gone.mp4", None, "missing", "file not found"),
    ]
    return pd.DataFrame(
        {
            "clip_id": [row[0] for row in rows],
            "path": [str(row[1]) for row in rows],
            "label": "ApplyEyeMakeup",
            "label_index": 0,
            "split": "train",
            "duration": [2.0, 2.0, 2.0, 2.0, None, None],
            "has_audio": [row[2] for row in rows],
            "status": [row[3] for row in rows],
            "reason": [row[4] for row in rows],
        }
    )


def statuses(index: pd.DataFrame, column: str) -> dict[str, str]:
    return dict(zip(index["clip_id"], index[column], strict=True))


def test_audio_shard_records_every_row(manifest: pd.DataFrame, tmp_path: Path) -> None:
    index = extract_audio_shard(manifest, tmp_path / "audio", sample_rate=16000)

    assert list(index.columns) == AUDIO_INDEX_COLUMNS
    assert statuses(index, "audio_status") == {
        "av": "ok",
        "silent": "no_audio",
        "mislabelled": "no_audio",
        "truncated": "error",
        "empty": "skipped",
        "gone": "skipped",
    }
    by_clip = index.set_index("clip_id")
    assert "moov atom not found" in by_clip.loc["truncated", "reason"]
    assert "manifest status missing" in by_clip.loc["gone", "reason"]

    # Only the decoded clip has a WAV, and no temporary file is left behind.
    assert sorted(p.name for p in (tmp_path / "audio").iterdir()) == ["av.wav"]
    samples, rate = load_wav(tmp_path / "audio" / "av.wav")
    assert rate == 16000 and samples.shape == (1, by_clip.loc["av", "n_samples"])
    assert by_clip.loc["av", "n_samples"] > 1.9 * 16000
    assert (by_clip.drop(index="av")["n_samples"] == 0).all()
    assert not index["silent"].any()  # a tone is sound; no other row has a track


def make_quiet_clip(path: Path, volume: float) -> Path:
    """A 2-s H.264 + AAC clip whose 440 Hz tone is scaled by `volume` (0: digital silence)."""
    sources = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=2"]
    sources += ["-f", "lavfi", "-i", f"sine=frequency=440:duration=2,volume={volume}"]
    subprocess.run(
        [ffmpeg_binary(), "-nostdin", "-loglevel", "error", "-y", *sources]
        + ["-c:v", "libx264", "-c:a", "aac", str(path)],
        check=True,
    )
    return path


def test_a_track_of_digital_silence_is_ok_and_silent(tmp_path: Path) -> None:
    clips = {"zero": 0.0, "faint": 0.001}  # faint: about 30 of 32767, quiet but not silent
    rows = pd.DataFrame(
        {
            "clip_id": list(clips),
            "path": [str(make_quiet_clip(tmp_path / f"{c}.mp4", v)) for c, v in clips.items()],
            "has_audio": True,
            "status": "ok",
            "reason": "",
        }
    )
    index = extract_audio_shard(rows, tmp_path / "audio", sample_rate=16000).set_index("clip_id")

    assert index["audio_status"].tolist() == ["ok", "ok"]  # other papers keep both clips
    assert index["silent"].tolist() == [True, False]
    assert (index["n_samples"] > 1.9 * 16000).all()
    zero, _ = load_wav(tmp_path / "audio" / "zero.wav")
    faint, _ = load_wav(tmp_path / "audio" / "faint.wav")
    assert not zero.any() and 0 < np.abs(faint).max() < 0.01


def test_tsn_frames_shard(manifest: pd.DataFrame, tmp_path: Path) -> None:
    out_path = tmp_path / "frames" / "shard-000.npz"
    index = sample_frames_shard(manifest, TSN_SPEC, out_path)

    assert list(index.columns) == FRAMES_INDEX_COLUMNS
    assert statuses(index, "frames_status") == {
        "av": "ok",
        "silent": "ok",  # frames do not need sound
        "mislabelled": "ok",
        "truncated": "error",
        "empty": "skipped",
        "gone": "skipped",
    }
    assert sorted(p.name for p in out_path.parent.iterdir()) == ["shard-000.npz"]
    shard = FrameStore([out_path])
    assert list(shard.clip_ids) == ["av", "silent", "mislabelled"]
    assert shard.sampler == "tsn" and shard.clip_shape == (3, 24, 24, 3)
    assert shard.n_valid.tolist() == [3, 3, 3]
    frames = shard.read(0)
    expected = sample_tsn(manifest["path"][0], n_segments=3, short_side=32, crop=24)
    assert frames.dtype == np.uint8
    np.testing.assert_array_equal(frames, as_stored(expected))


def test_tsn_frames_shard_with_random_views(manifest: pd.DataFrame, tmp_path: Path) -> None:
    """View 0 is the test protocol's centres, as a spec without views stores them; the
    snippets are drawn per clip, so a rebuild, or the clip in another shard, repeats them."""
    spec = TSN_SPEC | {"random_views": 2}
    sample_frames_shard(manifest.iloc[:3], spec, tmp_path / "a.npz")
    sample_frames_shard(manifest.iloc[[2, 0]], spec, tmp_path / "b.npz")
    sample_frames_shard(manifest.iloc[:1], TSN_SPEC, tmp_path / "plain.npz")
    store, again = FrameStore([tmp_path / "a.npz"]), FrameStore([tmp_path / "b.npz"])
    assert store.sampler == "tsn" and store.clip_shape == (3, 3, 24, 24, 3)
    assert store.n_valid.tolist() == [3, 3, 3]
    views = store.read(0)
    np.testing.assert_array_equal(views[0], FrameStore([tmp_path / "plain.npz"]).read(0))
    np.testing.assert_array_equal(again.read(1), views)  # clip "av" in another shard
    assert not np.array_equal(views[1], views[2])  # two draws of a 2-s moving clip


def test_clips_frames_shard_zero_pads_short_videos(manifest: pd.DataFrame, tmp_path: Path) -> None:
    out_path = tmp_path / "shard-001.npz"
    index = sample_frames_shard(manifest.iloc[:1], CLIPS_SPEC, out_path)
    assert statuses(index, "frames_status") == {"av": "ok"}

    shard = FrameStore([out_path])
    frames, n_valid = shard.read(0), shard.n_valid
    # The 2-s clip fills two of the four one-second clips; the rest are zeros.
    assert shard.clip_shape == (4, 2, 24, 24, 3) and frames.shape == (4, 2, 24, 24, 3)
    assert n_valid.tolist() == [2]
    assert frames[:2].mean() > 20
    assert not frames[2:].any()


def test_fps_frames_shard_zero_pads_short_videos(manifest: pd.DataFrame, tmp_path: Path) -> None:
    out_path = tmp_path / "shard-003.npz"
    spec = {"sampler": "fps", "fps": 2, "seconds": 3, "size": 24}
    sample_frames_shard(manifest.iloc[:1], spec, out_path)
    shard = FrameStore([out_path])
    frames, n_valid = shard.read(0), shard.n_valid
    # The 2-s clip gives 4 of the 6 frames of 3 s at 2 fps; the rest are zeros.
    assert frames.shape == (6, 24, 24, 3)
    assert n_valid.tolist() == [4]
    assert frames[:4].mean() > 20
    assert not frames[4:].any()


def test_fps_frames_shard_with_a_centre_crop(manifest: pd.DataFrame, tmp_path: Path) -> None:
    # Lee et al.'s TSN frames: 6 fps over 3 s, 64x48 -> short side 32 (42x32) -> 24x24.
    out_path = tmp_path / "shard-004.npz"
    spec = {"sampler": "fps", "fps": 6, "seconds": 3, "short_side": 32, "crop": 24}
    sample_frames_shard(manifest.iloc[:1], spec, out_path)
    shard = FrameStore([out_path])
    frames, n_valid = shard.read(0), shard.n_valid
    assert frames.shape == (18, 24, 24, 3)
    assert n_valid.tolist() == [12]  # the 2-s clip fills 12 of the 18 slots
    expected = sample_fps(manifest["path"][0], rate=6, seconds=3, short_side=32, crop=24)
    np.testing.assert_array_equal(frames[:12], as_stored(expected))
    assert not frames[12:].any()


def test_a_shard_without_usable_clips_still_writes_its_archive(
    manifest: pd.DataFrame, tmp_path: Path
) -> None:
    out_path = tmp_path / "shard-002.npz"
    index = sample_frames_shard(manifest.iloc[4:], TSN_SPEC, out_path)
    assert set(index["frames_status"]) == {"skipped"}
    shard = FrameStore([out_path])
    assert len(shard) == 0 and shard.clip_shape == (3, 24, 24, 3)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"sampler": "dense", "short_side": 32, "crop": 24}, "'sampler' must be one of"),
        ({"sampler": "tsn", "short_side": 32, "crop": 24}, "segments"),
        ({"sampler": "clips", "clips": 4, "short_side": 32, "crop": 24}, "frames_per_clip"),
        ({"sampler": "fps", "fps": 2, "size": 24}, "seconds"),
        ({"sampler": "fps", "fps": 2, "seconds": 3}, r"takes 'size' .* not neither"),
        ({"sampler": "fps", "fps": 2, "seconds": 3, "short_side": 32}, r"not \['short_side'\]"),
        ({"sampler": "fps", "fps": 2, "seconds": 3, "size": 24, "crop": 24}, "'size'"),
    ],
)
def test_a_bad_spec_is_named_before_any_work(
    manifest: pd.DataFrame, tmp_path: Path, spec: dict, words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        sample_frames_shard(manifest, spec, tmp_path / "shard.npz")
    assert list(tmp_path.iterdir()) == []
