import subprocess
from pathlib import Path

import numpy as np
import pytest

from avrepro.media.ffmpeg import ffmpeg_binary
from avrepro.media.frames import (
    Video,
    center_crop,
    clip_rng,
    output_size,
    pick_tsn,
    read_frames,
    sample_clips,
    sample_fps,
    sample_tsn,
    segment_indices,
    tsn_indices,
    tsn_random_indices,
)
from avrepro.media.probe import MediaError, probe


def make_clip(path: Path, source: str) -> Path:
    """Encode a lavfi video source (4:4:4 H.264, so colours survive) into `path`."""
    subprocess.run(
        [ffmpeg_binary(), "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source]
        + ["-c:v", "libx264", "-pix_fmt", "yuv444p", "-qp", "0", str(path)],
        check=True,
    )
    return path


@pytest.fixture(scope="module")
def fixture_clips(fixtures_dir: Path) -> dict[str, Path]:
    return {
        "avi": fixtures_dir / "clips" / "test.avi",  # 6.56 s, 25 fps, XVID
        "mp4": fixtures_dir / "clips" / "v_GGSY1Qvo990.mp4",  # 18.16 s, 19.62 fps, H.264
    }


def test_segment_indices_are_segment_centres() -> None:
    np.testing.assert_array_equal(segment_indices(10, 5), [1, 3, 5, 7, 9])
    np.testing.assert_array_equal(segment_indices(164, 4), [20, 61, 102, 143])
    # Fewer frames than segments: neighbouring segments share a frame.
    np.testing.assert_array_equal(segment_indices(3, 5), [0, 0, 1, 2, 2])
    np.testing.assert_array_equal(segment_indices(1, 3), [0, 0, 0])


@pytest.mark.parametrize(("n_frames", "n_segments"), [(7, 3), (164, 25), (356, 25), (24, 25)])
def test_each_index_lies_in_its_own_segment(n_frames: int, n_segments: int) -> None:
    indices = segment_indices(n_frames, n_segments)
    assert indices.shape == (n_segments,) and indices.dtype == np.int64
    starts = np.arange(n_segments) * n_frames / n_segments
    assert np.all(indices >= np.floor(starts))
    assert np.all(indices < starts + n_frames / n_segments)
    assert indices[-1] < n_frames


def test_tsn_snippets_fall_at_random_times_inside_their_segments() -> None:
    """A frame every 0.01 s over 10 s, 5 segments: each snippet's frame lies in its own
    2-s segment, the draws spread over the segment (not its centre), and a clip's own
    generator gives the same draws again, another clip's or spec's other ones."""
    times, seconds = np.arange(1000) / 100, 10.0
    spec = {"sampler": "tsn", "segments": 5, "random_views": 1}
    rng = np.random.default_rng(0)
    draws = np.stack([tsn_random_indices(times, seconds, 5, rng) for _ in range(200)])
    segment = draws // 200  # frames 200k .. 200k + 199 show during segment k
    np.testing.assert_array_equal(segment, np.broadcast_to(np.arange(5), draws.shape))
    offsets = draws % 200
    assert offsets.min() < 20 and offsets.max() > 180  # the whole segment, not its middle

    def clip_draw(clip_id: str, clip_spec: dict) -> np.ndarray:
        return tsn_random_indices(times, seconds, 5, clip_rng(clip_id, clip_spec))

    np.testing.assert_array_equal(clip_draw("a", spec), clip_draw("a", dict(spec)))
    assert not np.array_equal(clip_draw("b", spec), clip_draw("a", spec))
    assert not np.array_equal(clip_draw("a", spec | {"crop": 9}), clip_draw("a", spec))


def test_pick_tsn_puts_the_centres_first_then_the_snippets() -> None:
    times = np.arange(40) / 4  # 4 fps for 10 s: frame i shows its index as its colour
    frames = np.broadcast_to(np.arange(40, dtype=np.uint8)[:, None, None, None],
                             (40, 6, 6, 3)).copy()
    video = Video(frames, times, 10.0, None)
    views = pick_tsn(video, 4, 4, random_views=3, rng=np.random.default_rng(0))
    assert views.shape == (4, 4, 4, 4, 3)
    np.testing.assert_array_equal(views[0], pick_tsn(video, 4, 4))
    np.testing.assert_array_equal(views[0, :, 0, 0, 0], tsn_indices(times, 10.0, 4))
    shown = views[1:, :, 0, 0, 0]  # the frame index each snippet took
    assert np.all(shown // 10 == np.arange(4)) and len(np.unique(shown)) > 4


def test_segment_indices_reject_empty_input() -> None:
    with pytest.raises(ValueError, match="n_frames"):
        segment_indices(0, 25)
    with pytest.raises(ValueError, match="n_segments"):
        segment_indices(10, 0)


def test_output_size_keeps_aspect_with_an_even_long_side() -> None:
    assert output_size(320, 240, 256) == (342, 256)  # 341.3 rounded to even
    assert output_size(240, 320, 256) == (256, 342)  # portrait
    assert output_size(1920, 1080, 128) == (228, 128)
    assert output_size(100, 100, 64) == (64, 64)


def test_center_crop_takes_the_middle() -> None:
    frames = np.arange(2 * 5 * 8 * 3, dtype=np.int64).reshape(2, 5, 8, 3)
    cropped = center_crop(frames, 3)
    assert cropped.shape == (2, 3, 3, 3)
    np.testing.assert_array_equal(cropped, frames[:, 1:4, 2:5])
    with pytest.raises(ValueError, match="larger than the frames"):
        center_crop(frames, 6)


def test_read_frames_is_rgb_and_resized(tmp_path: Path) -> None:
    red = make_clip(tmp_path / "red.mp4", "color=c=red:size=80x60:rate=10:duration=1")
    frames = read_frames(red, short_side=32)
    assert frames.shape == (10, 32, 42, 3) and frames.dtype == np.uint8
    red_channel, green, blue = frames[..., 0], frames[..., 1], frames[..., 2]
    assert red_channel.min() > 230 and green.max() < 25 and blue.max() < 25


def test_read_frames_decodes_every_frame_of_the_real_clips(
    fixture_clips: dict[str, Path],
) -> None:
    for clip in fixture_clips.values():
        info = probe(clip)
        frames = read_frames(clip, short_side=64)
        assert frames.shape[1:] == (64, 86, 3)
        assert abs(len(frames) - info.duration * info.fps) <= 2
        assert frames.mean() > 20  # a real picture, not black


def test_sample_tsn_on_the_real_clips(fixture_clips: dict[str, Path]) -> None:
    for clip in fixture_clips.values():
        sampled = sample_tsn(clip, n_segments=25, short_side=256, crop=224)
        assert sampled.shape == (25, 224, 224, 3) and sampled.dtype == np.uint8
        assert sampled.mean() > 20
        assert not np.array_equal(sampled[0], sampled[-1])  # the clips move

        frames = read_frames(clip, short_side=256)
        expected = center_crop(frames, 224)[segment_indices(len(frames), 25)]
        np.testing.assert_array_equal(sampled, expected)


def test_sample_clips_cuts_one_second_windows(fixture_clips: dict[str, Path]) -> None:
    mp4 = fixture_clips["mp4"]  # 18.16 s: all 10 windows exist
    sampled = sample_clips(mp4, n_clips=10, frames_per_clip=16, short_side=64, crop=56)
    assert sampled.shape == (10, 16, 56, 56, 3) and sampled.dtype == np.uint8

    frames = center_crop(read_frames(mp4, short_side=64), 56)
    fps = 19.62
    for window in (0, 3, 9):
        start, stop = round(window * fps), round((window + 1) * fps)
        expected = frames[start + segment_indices(stop - start, 16)]
        np.testing.assert_array_equal(sampled[window], expected)

    avi = fixture_clips["avi"]  # 6.56 s: six seconds and a partial one; the caller pads
    short = sample_clips(avi, n_clips=10, frames_per_clip=16, short_side=64, crop=56)
    assert short.shape == (7, 16, 56, 56, 3)
    avi_frames = center_crop(read_frames(avi, short_side=64), 56)
    last = round(6 * probe(avi).fps)  # the partial second's frames, evenly sampled
    np.testing.assert_array_equal(
        short[6], avi_frames[last + segment_indices(len(avi_frames) - last, 16)]
    )


def test_samplers_repeat_frames_of_a_very_short_clip(tmp_path: Path) -> None:
    # 0.5 s at 10 fps: 5 frames of a moving test pattern.
    clip = make_clip(tmp_path / "short.mp4", "testsrc=size=64x48:rate=10:duration=0.5")
    frames = read_frames(clip, short_side=48)
    assert len(frames) == 5

    tsn = sample_tsn(clip, n_segments=8, short_side=48, crop=32)
    assert tsn.shape == (8, 32, 32, 3)
    np.testing.assert_array_equal(tsn, center_crop(frames, 32)[segment_indices(5, 8)])

    clips = sample_clips(clip, n_clips=10, frames_per_clip=4, short_side=48, crop=32)
    assert clips.shape == (1, 4, 32, 32, 3)  # one window, spanning the whole clip
    np.testing.assert_array_equal(clips[0], center_crop(frames, 32)[segment_indices(5, 4)])


def test_sample_fps_takes_the_frame_at_the_centre_of_each_slot(tmp_path: Path) -> None:
    # 3 s at 10 fps, 80x48: at 2 fps the slot centres 0.25, 0.75, ... 2.75 s are frames
    # 2, 7, 12, 17, 22, 27, each squeezed (not cropped) to 32x32.
    clip = make_clip(tmp_path / "three.mp4", "testsrc=size=80x48:rate=10:duration=3")
    sampled = sample_fps(clip, rate=2, seconds=10, size=32)
    assert sampled.shape == (6, 32, 32, 3) and sampled.dtype == np.uint8  # the caller pads
    all_frames = sample_fps(clip, rate=10, seconds=3, size=32)
    assert len(all_frames) == 30
    np.testing.assert_array_equal(sampled, all_frames[[2, 7, 12, 17, 22, 27]])
    assert len(sample_fps(clip, rate=2, seconds=1, size=32)) == 2  # at most rate * seconds


def test_sample_fps_gives_a_very_short_clip_one_frame(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "short.mp4", "testsrc=size=64x48:rate=10:duration=0.2")
    assert sample_fps(clip, rate=2, seconds=10, size=32).shape == (1, 32, 32, 3)


def test_sample_fps_can_keep_the_aspect_and_crop_the_centre(tmp_path: Path) -> None:
    # Lee et al.'s TSN input: 6 fps, short side resized, centre crop. 80x48 -> 54x32
    # (aspect kept, long side even) -> the central 24x24; same slots as the squeezed frames.
    clip = make_clip(tmp_path / "three.mp4", "testsrc=size=80x48:rate=10:duration=3")
    sampled = sample_fps(clip, rate=2, seconds=3, short_side=32, crop=24)
    assert sampled.shape == (6, 24, 24, 3) and sampled.dtype == np.uint8
    resized = read_frames(clip, short_side=32)
    assert resized.shape[1:] == (32, 54, 3)
    np.testing.assert_array_equal(sampled, resized[[2, 7, 12, 17, 22, 27], 4:28, 15:39])
    squeezed = sample_fps(clip, rate=2, seconds=3, size=24)
    assert not np.array_equal(sampled, squeezed)  # a crop, not the whole picture squeezed


@pytest.mark.parametrize(
    "picture",
    [{}, {"short_side": 32}, {"crop": 24}, {"size": 24, "crop": 24}, {"size": 24, "short_side": 8}],
)
def test_sample_fps_takes_either_a_size_or_a_short_side_and_a_crop(
    tmp_path: Path, picture: dict
) -> None:
    with pytest.raises(ValueError, match="give size, or short_side and crop"):
        sample_fps(tmp_path / "never-opened.mp4", rate=2, seconds=3, **picture)


def test_a_file_without_video_is_a_media_error(fixtures_dir: Path) -> None:
    with pytest.raises(MediaError, match="test.wav"):
        sample_tsn(fixtures_dir / "clips" / "test.wav", n_segments=3, short_side=64, crop=56)
