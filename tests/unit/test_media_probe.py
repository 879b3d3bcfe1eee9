from pathlib import Path

import pytest
from clips import make_clip

from avrepro.media.probe import MediaError, clip_status, parse_probe, probe, stderr_tail


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    with_audio = make_clip(folder / "av.mp4")
    truncated = folder / "truncated.mp4"
    # ffmpeg writes the MP4 index (moov atom) last, so the first half of the file has none.
    truncated.write_bytes(with_audio.read_bytes()[: with_audio.stat().st_size // 2])
    empty = folder / "empty.mp4"
    empty.touch()
    garbage = folder / "garbage.avi"
    garbage.write_text("not a video\n" * 100)
    return {
        "av": with_audio,
        "silent": make_clip(folder / "silent.mp4", audio=False),
        "rotated": make_clip(
            folder / "rotated.mp4", audio=False, before_input=("-display_rotation:v:0", "90")
        ),
        "truncated": truncated,
        "empty": empty,
        "garbage": garbage,
    }


def test_probe_reads_the_real_fixture_clips(fixtures_dir: Path) -> None:
    avi = probe(fixtures_dir / "clips" / "test.avi")
    assert (avi.width, avi.height, avi.fps) == (320, 240, 25.0)
    assert avi.duration == pytest.approx(6.56)
    assert avi.has_video and avi.has_audio

    mp4 = probe(fixtures_dir / "clips" / "v_GGSY1Qvo990.mp4")
    assert (mp4.width, mp4.height, mp4.fps) == (320, 240, 19.62)
    assert mp4.duration == pytest.approx(18.16)
    assert mp4.has_video and mp4.has_audio


def test_a_wav_has_audio_and_no_video(fixtures_dir: Path) -> None:
    status, info, reason = clip_status(fixtures_dir / "clips" / "test.wav")
    assert status == "no_video"
    assert info is not None and info.has_audio and not info.has_video
    assert info.fps is None and info.width is None
    assert "test.wav" in reason


def test_synthesized_clips_with_and_without_audio(clips: dict[str, Path]) -> None:
    with_audio = probe(clips["av"])
    assert (with_audio.width, with_audio.height, with_audio.fps) == (64, 48, 10.0)
    assert with_audio.duration == pytest.approx(2.0, abs=0.1)
    assert with_audio.has_video and with_audio.has_audio

    silent = probe(clips["silent"])
    assert silent.has_video and not silent.has_audio
    assert clip_status(clips["silent"])[0] == "ok"


def test_a_rotated_clip_reports_its_upright_size(clips: dict[str, Path]) -> None:
    info = probe(clips["rotated"])
    assert (info.width, info.height) == (48, 64)


@pytest.mark.parametrize(
    ("name", "status", "words"),
    [
        ("empty", "empty", "0 bytes"),
        ("truncated", "corrupt", "moov atom not found"),
        ("garbage", "corrupt", "Invalid data"),
    ],
)
def test_unreadable_files_raise_media_error_and_get_a_status(
    clips: dict[str, Path], name: str, status: str, words: str
) -> None:
    with pytest.raises(MediaError, match=words) as raised:
        probe(clips[name])
    assert raised.value.path == clips[name]
    assert str(clips[name]) in str(raised.value)

    got_status, info, reason = clip_status(clips[name])
    assert (got_status, info) == (status, None)
    assert words in reason


def test_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.mp4"
    with pytest.raises(FileNotFoundError, match="nowhere.mp4"):
        probe(missing)
    assert clip_status(missing) == ("missing", None, f"{missing}: file not found")


def test_parse_probe_ignores_cover_art_and_reads_kilo_fps() -> None:
    cover_art = """Input #0, mp3, from 'song.mp3':
  Duration: N/A, start: 0.025057, bitrate: N/A
  Stream #0:0: Audio: mp3 (mp3float), 44100 Hz, stereo, fltp, 128 kb/s
  Stream #0:1: Video: mjpeg (Baseline), yuvj420p(pc), 500x500, 90k tbr (attached pic)
"""
    info = parse_probe("song.mp3", cover_art)
    assert not info.has_video and info.has_audio
    assert info.duration is None and info.width is None

    fast = """Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'fast.mp4':
  Duration: 00:01:02.50, start: 0.000000, bitrate: 900 kb/s
  Stream #0:0[0x1](und): Video: h264 (avc1 / 0x31637661), yuv420p(tv), 1280x720, 1k fps, 1k tbr
"""
    info = parse_probe("fast.mp4", fast)
    assert (info.width, info.height, info.fps, info.duration) == (1280, 720, 1000.0, 62.5)


def test_parse_probe_rejects_a_container_without_streams() -> None:
    with pytest.raises(MediaError, match="no audio or video stream"):
        parse_probe("data.mkv", "Input #0, matroska,webm, from 'data.mkv':\n  Duration: N/A\n")


def test_stderr_tail_drops_log_prefixes_and_repeats() -> None:
    stderr = b"[mov @ 0x55a1] moov atom not found\n[in#0 @ 0x55b2] moov atom not found\nbye\n"
    assert stderr_tail(stderr) == "moov atom not found; bye"
    assert stderr_tail("a\nb\nc\n", n_lines=2) == "b; c"
    assert stderr_tail("") == "no output"
