"""yt-dlp throttling options for bulk Kinetics downloads reach yt-dlp; no network."""

import io
import subprocess

import pytest
import yt_dlp
from httpserver import serve

from avrepro.data import acquire, youtube
from avrepro.data.youtube import ClipUnavailable, download_segment, throttle_options
from avrepro.media.ffmpeg import ffmpeg_binary

COOKIES = "# Netscape HTTP Cookie File\n.example.com\tTRUE\t/\tFALSE\t0\tSID\tabc\n"


@pytest.fixture
def cookies(tmp_path):
    path = tmp_path / "cookies.txt"
    path.write_text(COOKIES)
    return path


def test_config_keys_become_yt_dlp_options(cookies):
    cfg = {
        "acquire": "download",
        "download_workers": 16,
        "cookies": str(cookies),
        "rate_limit": "5M",
        "retries": 10,
        "sleep_interval": 2,
        "max_sleep_interval": 8,
        "sleep_requests": 0.5,
    }
    assert throttle_options(cfg) == {
        "cookiefile": cookies,
        "ratelimit": 5 * 2**20,
        "retries": 10,
        "fragment_retries": 10,
        "sleep_interval": 2,
        "max_sleep_interval": 8,
        "sleep_interval_requests": 0.5,
    }
    assert throttle_options({"rate_limit": 500_000, "cookies": None}) == {"ratelimit": 500_000}
    assert throttle_options({"acquire": "download"}) == {}


@pytest.mark.parametrize(
    ("cfg", "error", "message"),
    [
        ({"rate_limit": "fast"}, ValueError, "'fast' is not a rate"),
        ({"max_sleep_interval": 5}, ValueError, "max_sleep_interval needs sleep_interval"),
        ({"cookies": "/nonexistent/cookies.txt"}, FileNotFoundError, "no such file"),
    ],
)
def test_bad_throttle_keys_fail_before_any_download(cfg, error, message):
    with pytest.raises(error, match=message):
        throttle_options(cfg)


class Recorder:
    """Stands in for yt_dlp.YoutubeDL: records its params, then fails the download."""

    seen: list[dict] = []

    def __init__(self, params):
        cookiefile = params.get("cookiefile")
        text = cookiefile.getvalue() if isinstance(cookiefile, io.StringIO) else cookiefile
        Recorder.seen.append({**params, "cookie_text": text})

    def __enter__(self):
        return self

    def __exit__(self, *args):
        return False

    def extract_info(self, url, download):
        raise yt_dlp.utils.DownloadError("ERROR: stopped by the test")


def test_download_segment_passes_the_options_and_a_copy_of_the_cookies(
    tmp_path, cookies, monkeypatch
):
    Recorder.seen = []
    monkeypatch.setattr(youtube.yt_dlp, "YoutubeDL", Recorder)
    throttle = throttle_options({"cookies": cookies, "rate_limit": "1M", "retries": 4})
    with pytest.raises(ClipUnavailable, match="stopped by the test"):
        download_segment("https://example.invalid/v", 1, 3, tmp_path / "a.mp4", throttle)
    (params,) = Recorder.seen
    assert params["ratelimit"] == 2**20 and params["retries"] == params["fragment_retries"] == 4
    # A stream, not the path: yt-dlp rewrites a cookie file named by path on closing.
    assert isinstance(params["cookiefile"], io.StringIO)
    assert params["cookie_text"] == COOKIES
    assert params["format"] == youtube.FORMAT  # the usual options stay


def test_kinetics_downloads_pass_the_throttle_to_every_clip(tmp_path, monkeypatch):
    annotations = tmp_path / "annotations"
    annotations.mkdir()
    rows = "label,youtube_id,time_start,time_end,split\n"
    rows += "".join(f"bowling,vid{n:08d},1,3,val\n" for n in range(3))
    (annotations / "validate.csv").write_text(rows)
    seen = []

    def fake_download(url, start, end, dest, throttle=None):
        seen.append(throttle)
        raise ClipUnavailable(url, "offline in this test")

    monkeypatch.setattr(acquire, "download_segment", fake_download)
    throttle = {"ratelimit": 1000, "sleep_interval": 1}
    status = acquire.acquire_kinetics_videos(
        annotations, tmp_path, None, "val", workers=2, throttle=throttle
    )
    assert seen == [throttle] * 3
    assert (status["status"] == "missing").all()


def test_a_real_download_with_cookies_leaves_the_cookie_file_alone(tmp_path, cookies):
    lavfi = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-f", "lavfi", "-i", "sine=440"]
    codecs = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"]
    video = tmp_path / "served" / "v.mp4"
    video.parent.mkdir()
    command = [ffmpeg_binary(), "-v", "error", *lavfi, "-t", "3", *codecs, str(video)]
    subprocess.run(command, check=True)
    throttle = throttle_options({"cookies": cookies, "rate_limit": "50M", "retries": 1})
    before = cookies.read_bytes()
    with serve(video.parent) as url:
        dest = download_segment(f"{url}/v.mp4", 0, 2, tmp_path / "clip.mp4", throttle)
    assert dest.stat().st_size > 0
    assert cookies.read_bytes() == before
