import re
import subprocess

import pytest
from httpserver import serve

from avrepro.data.youtube import ClipUnavailable, download_segment, youtube_url
from avrepro.media.ffmpeg import ffmpeg_binary


def make_video(path, seconds):
    """A small H.264 + AAC MP4: a test pattern with a 440 Hz tone."""
    lavfi = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-f", "lavfi", "-i", "sine=440"]
    codecs = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"]
    command = [ffmpeg_binary(), "-v", "error", "-y", *lavfi, "-t", str(seconds), *codecs, path]
    subprocess.run(command, check=True)


def probe(path):
    """(duration in seconds, stream kinds) as ffmpeg reports them."""
    info = subprocess.run([ffmpeg_binary(), "-i", str(path)], capture_output=True, text=True).stderr
    h, m, s = re.search(r"Duration: (\d+):(\d+):([\d.]+)", info).groups()
    kinds = set(re.findall(r"Stream #\S+ (Video|Audio):", info))
    return int(h) * 3600 + int(m) * 60 + float(s), kinds


def test_youtube_url():
    assert youtube_url("0347ZoDXyP0") == "https://www.youtube.com/watch?v=0347ZoDXyP0"


def test_downloads_the_requested_segment_of_a_direct_url(tmp_path):
    make_video(tmp_path / "abc.mp4", seconds=4)
    dest = tmp_path / "clips" / "abc_000001_000003.mp4"
    with serve(tmp_path) as url:
        assert download_segment(f"{url}/abc.mp4", 1, 3, dest) == dest
    duration, kinds = probe(dest)
    assert duration == pytest.approx(2.0, abs=0.2)
    assert kinds == {"Video", "Audio"}
    assert list(dest.parent.iterdir()) == [dest]  # no staging folder left behind


def test_a_missing_video_is_clip_unavailable_and_writes_nothing(tmp_path):
    dest = tmp_path / "clips" / "gone.mp4"
    with serve(tmp_path) as url, pytest.raises(ClipUnavailable) as caught:
        download_segment(f"{url}/gone.mp4", 1, 3, dest)
    assert caught.value.url == f"{url}/gone.mp4"
    assert "404" in caught.value.reason
    assert list(dest.parent.iterdir()) == []
