"""Media taken as it is: frames by presentation time, the display aspect, and clips decoded
short of their header recorded as partial (kept or dropped) and counted."""

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from avrepro.data.coverage import coverage_report, read_partial
from avrepro.media.ffmpeg import ffmpeg_binary
from avrepro.media.frames import (
    fps_indices,
    read_frames,
    read_video,
    sample_clips,
    sample_fps,
    sample_tsn,
    segment_indices,
    tsn_indices,
    window_indices,
)
from avrepro.media.shards import extract_audio_shard, sample_frames_shard

TSN_SPEC = {"sampler": "tsn", "segments": 3, "short_side": 32, "crop": 24}


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_binary(), "-nostdin", "-loglevel", "error", "-y", *args], check=True)


def grey_ramp(seconds: float, rate: int, offset: float) -> str:
    """A lavfi source whose grey level rises 60 a second (from `offset`), above black's 16."""
    return (
        f"color=c=black:size=32x32:rate={rate}:duration={seconds},format=yuvj444p,"
        f"geq=lum='20+60*(T+{offset})':cb=128:cr=128"
    )


@pytest.fixture(scope="module")
def vfr_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1 s at 30 fps then 2 s at 10 fps, each frame as bright as its time (60 per second)."""
    path = tmp_path_factory.mktemp("vfr") / "vfr.mp4"
    ffmpeg(
        *("-f", "lavfi", "-i", grey_ramp(1, 30, 0), "-f", "lavfi", "-i", grey_ramp(2, 10, 1)),
        *("-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]", "-fps_mode", "vfr"),
        *("-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuvj444p", str(path)),
    )
    return path


def test_the_vfr_clip_really_changes_rate(vfr_clip: Path) -> None:
    video = read_video(vfr_clip, short_side=32)
    assert len(video.times) == 50 and video.seconds == pytest.approx(3.0)
    steps = np.diff(video.times)
    np.testing.assert_allclose(steps[:29], 1 / 30, atol=1e-3)
    np.testing.assert_allclose(steps[30:], 0.1, atol=1e-3)


def shown_at(frames: np.ndarray, video) -> np.ndarray:
    """The presentation time of each of `frames`, found among the decoded video's (every
    frame has a grey level of its own)."""
    flat = video.frames.reshape(len(video.frames), -1)
    return np.array([video.times[(flat == f.ravel()).all(axis=1)][0] for f in frames])


def test_one_frame_per_second_of_a_vfr_clip_is_taken_at_the_slot_centres(vfr_clip: Path) -> None:
    video = read_video(vfr_clip, short_side=32)
    # By the average rate (50 frames / 3 s) these were the frames shown at 0.23, 0.73, 1.8 s.
    sampled = sample_fps(vfr_clip, rate=1, seconds=3, short_side=32, crop=32)
    np.testing.assert_allclose(shown_at(sampled, video), [0.5, 1.5, 2.5], atol=1e-3)
    assert np.all(np.diff(sampled.mean(axis=(1, 2, 3))) > 50)  # brighter with time
    # TSN's three segment centres of the 3 s are the same instants.
    tsn = sample_tsn(vfr_clip, n_segments=3, short_side=32, crop=32)
    np.testing.assert_allclose(shown_at(tsn, video), [0.5, 1.5, 2.5], atol=1e-3)


def test_one_second_windows_of_a_vfr_clip_hold_the_frames_of_their_second(
    vfr_clip: Path,
) -> None:
    video = read_video(vfr_clip, short_side=32)
    windows = sample_clips(vfr_clip, n_clips=5, frames_per_clip=2, short_side=32, crop=32)
    assert windows.shape == (3, 2, 32, 32, 3)
    # Window w: 30 frames, then 10, then 10; two segment centres of each.
    times = shown_at(windows.reshape(-1, 32, 32, 3), video).reshape(3, 2)
    np.testing.assert_allclose(times, [[7 / 30, 22 / 30], [1.2, 1.7], [2.2, 2.7]], atol=1e-3)


def index_windows(n_frames: int, fps: float, n_clips: int, per_clip: int) -> np.ndarray:
    """MAFnet's windows as they were cut by frame counts at the average rate."""
    n_windows = min(n_clips, max(1, int(np.ceil((n_frames - 0.5) / fps))))
    windows = []
    for window in range(n_windows):
        start = min(round(window * fps), n_frames - 1)
        stop = min(max(round((window + 1) * fps), start + 1), n_frames)
        windows.append(start + segment_indices(stop - start, per_clip))
    return np.stack(windows)


@pytest.mark.parametrize(
    ("n_frames", "fps"), [(30, 10), (164, 25), (355, 981 / 50), (90, 30000 / 1001), (5, 10)]
)
def test_at_a_constant_rate_picking_by_time_picks_the_frames_picking_by_index_did(
    n_frames: int, fps: float
) -> None:
    times = np.arange(n_frames) / fps
    seconds = n_frames / fps
    np.testing.assert_array_equal(tsn_indices(times, seconds, 25), segment_indices(n_frames, 25))
    np.testing.assert_array_equal(
        window_indices(times, seconds, 10, 16), index_windows(n_frames, fps, 10, 16)
    )
    for rate, duration in ((2, 10), (6, 3), (4, 10), (1, 2)):
        wanted = (np.arange(int(round(rate * duration))) + 0.5) / rate
        wanted = wanted[wanted < seconds] if seconds > wanted[0] else wanted[:1]
        expected = np.minimum((wanted * fps).astype(np.int64), n_frames - 1)
        np.testing.assert_array_equal(fps_indices(times, seconds, rate, duration), expected)


def test_non_square_pixels_are_shown_at_the_display_aspect(tmp_path: Path) -> None:
    # 64x48 stored with pixels 64:51 wide: shown 80.3 x 48, so a 48 short side is 80 wide.
    clip = tmp_path / "sar.mp4"
    source = "testsrc=size=64x48:rate=10:duration=1,setsar=64/51"
    ffmpeg("-f", "lavfi", "-i", source, "-c:v", "libx264", str(clip))
    assert read_frames(clip, short_side=48).shape == (10, 48, 80, 3)
    square = tmp_path / "square.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1", str(square))
    assert read_frames(square, short_side=48).shape == (10, 48, 64, 3)


def write_clip(path: Path, video_s: float, audio_s: float, *options: str) -> Path:
    """A 64x48 10-fps clip with a 440 Hz track, each stream as long as asked."""
    ffmpeg(
        *("-f", "lavfi", "-i", f"testsrc=size=64x48:rate=10:duration={video_s}"),
        *("-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=16000:duration={audio_s}"),
        *options,
        str(path),
    )
    return path


def cut_in_half(path: Path) -> Path:
    """The file's first half: its header survives and says the whole length."""
    cut = path.with_name(f"cut-{path.name}")
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return cut


@pytest.fixture(scope="module")
def partial_manifest(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """Manifest rows (all status ok) of an intact clip and three partial ones."""
    folder = tmp_path_factory.mktemp("partial")
    avi = write_clip(folder / "whole.avi", 4, 4, "-c:v", "mpeg4", "-c:a", "pcm_s16le")
    mp4 = write_clip(folder / "whole.mp4", 4, 4, "-c:v", "libx264", "-movflags", "+faststart")
    clips = {
        "intact": mp4,
        "cut_avi": cut_in_half(avi),
        "cut_mp4": cut_in_half(mp4),  # the index first (+faststart), so it survives the cut
        "short_audio": write_clip(folder / "short_audio.mp4", 4, 1, "-c:v", "libx264"),
    }
    return pd.DataFrame(
        {
            "clip_id": list(clips),
            "path": [str(path) for path in clips.values()],
            "split": ["train", "train", "test", "test"],
            "has_audio": True,
            "status": "ok",
            "reason": "",
        }
    )


def by_clip(index: pd.DataFrame, column: str) -> dict:
    return dict(zip(index["clip_id"], index[column], strict=True))


def test_video_decoded_short_is_flagged_and_kept_or_dropped(
    partial_manifest: pd.DataFrame, tmp_path: Path
) -> None:
    kept = sample_frames_shard(partial_manifest, TSN_SPEC, tmp_path / "kept.npz")
    assert by_clip(kept, "partial") == {
        "intact": False, "cut_avi": True, "cut_mp4": True, "short_audio": False
    }  # fmt: skip
    assert set(kept["frames_status"]) == {"ok"}
    seconds = by_clip(kept, "video_seconds")
    assert seconds["intact"] == pytest.approx(4.0) and seconds["cut_avi"] < 3.5
    assert by_clip(kept, "media_seconds")["cut_avi"] == pytest.approx(4.0, abs=0.1)
    assert "video decoded" in by_clip(kept, "reason")["cut_mp4"]
    assert len(np.load(tmp_path / "kept.npz")["clip_id"]) == 4

    dropped = sample_frames_shard(
        partial_manifest, TSN_SPEC, tmp_path / "dropped.npz", partial_policy="drop"
    )
    assert by_clip(dropped, "frames_status") == {
        "intact": "ok", "cut_avi": "partial", "cut_mp4": "partial", "short_audio": "ok"
    }  # fmt: skip
    assert sorted(np.load(tmp_path / "dropped.npz")["clip_id"]) == ["intact", "short_audio"]


def test_audio_decoded_short_is_flagged_and_kept_or_dropped(
    partial_manifest: pd.DataFrame, tmp_path: Path
) -> None:
    kept = extract_audio_shard(partial_manifest, tmp_path / "kept", sample_rate=16000)
    assert by_clip(kept, "partial") == {
        "intact": False, "cut_avi": True, "cut_mp4": True, "short_audio": True
    }  # fmt: skip
    assert set(kept["audio_status"]) == {"ok"}
    seconds = by_clip(kept, "audio_seconds")
    assert seconds["short_audio"] == pytest.approx(1.0, abs=0.05)
    assert by_clip(kept, "media_seconds")["short_audio"] == pytest.approx(4.0, abs=0.05)

    dropped = extract_audio_shard(
        partial_manifest, tmp_path / "dropped", sample_rate=16000, partial_policy="drop"
    )
    assert by_clip(dropped, "audio_status")["short_audio"] == "partial"
    assert not (tmp_path / "dropped" / "short_audio.wav").exists()
    assert (tmp_path / "dropped" / "intact.wav").exists()


def test_coverage_counts_the_partial_clips(partial_manifest: pd.DataFrame, tmp_path: Path) -> None:
    index = sample_frames_shard(partial_manifest, TSN_SPEC, tmp_path / "shard.npz")
    index.to_csv(tmp_path / "shard-000.csv", index=False)
    report = coverage_report(partial_manifest, partial=read_partial([tmp_path / "shard-000.csv"]))
    assert report[["split", "usable", "partial"]].to_dict("list") == {
        "split": ["train", "test", "all"], "usable": [2, 2, 4], "partial": [1, 1, 2]
    }  # fmt: skip


@pytest.mark.parametrize("bad", [{"partial_policy": "skip"}, {"tolerance_s": -1}])
def test_a_bad_partial_setting_is_refused_naming_its_key(
    partial_manifest: pd.DataFrame, tmp_path: Path, bad: dict
) -> None:
    with pytest.raises(ValueError, match="media.partial"):
        sample_frames_shard(partial_manifest, TSN_SPEC, tmp_path / "x.npz", **bad)
