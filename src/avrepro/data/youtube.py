"""Fetch one segment of an online video with yt-dlp (Kinetics clips are YouTube segments)."""

import io
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import yt_dlp
from yt_dlp.postprocessor.ffmpeg import FFmpegPostProcessor

from avrepro.media.ffmpeg import ffmpeg_binary

log = logging.getLogger(__name__)

WATCH_URL = "https://www.youtube.com/watch?v={youtube_id}"
# MP4 with audio first: a merged mp4 + m4a pair, else a single mp4 file, else the best
# of anything (remuxed to MP4 below), so every clip ends up in the same container.
FORMAT = "bv*[ext=mp4]+ba[ext=m4a]/b[ext=mp4]/bv*+ba/b"

# YouTube throttles and then blocks bulk downloads (Kinetics-400 is ~260k videos): config
# keys of raw.kinetics400 -> the yt-dlp option each sets (the Python names of the command
# line's --cookies, --limit-rate, --retries, --sleep-interval, --max-sleep-interval and
# --sleep-requests; YoutubeDL's docstring and yt_dlp/downloader/common.py list them).
THROTTLE_OPTIONS = {
    "cookies": "cookiefile",  # a Netscape cookies.txt of a logged-in session
    "rate_limit": "ratelimit",  # bytes/s per download; "5M" = 5 MiB/s
    "retries": "retries",  # per HTTP request; also for DASH fragments below
    "sleep_interval": "sleep_interval",  # seconds before each download (minimum)
    "max_sleep_interval": "max_sleep_interval",  # random sleep up to this
    "sleep_requests": "sleep_interval_requests",  # seconds between page/API requests
}


class ClipUnavailable(Exception):
    """yt-dlp could not fetch the clip: vanished, private, geo-blocked, or unreachable."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


def youtube_url(youtube_id: str) -> str:
    return WATCH_URL.format(youtube_id=youtube_id)


def throttle_options(cfg: Mapping) -> dict:
    """yt-dlp options from the THROTTLE_OPTIONS keys set (not null) in `cfg`.

    rate_limit takes yt-dlp's units ("500K", "5M", or bytes/s). Errors are raised here,
    before a run of 260k downloads, not by each download.
    """
    options = {
        THROTTLE_OPTIONS[key]: value
        for key, value in cfg.items()
        if key in THROTTLE_OPTIONS and value is not None
    }
    if "ratelimit" in options:
        rate = yt_dlp.utils.parse_bytes(str(options["ratelimit"]))
        if rate is None:
            raise ValueError(f"rate_limit: {options['ratelimit']!r} is not a rate like '5M'")
        options["ratelimit"] = rate
    if "retries" in options:
        options["fragment_retries"] = options["retries"]  # DASH streams come in fragments
    if "max_sleep_interval" in options and "sleep_interval" not in options:
        # yt-dlp draws the sleep from [sleep_interval, max_sleep_interval].
        raise ValueError("max_sleep_interval needs sleep_interval (the range's lower end)")
    if "cookiefile" in options:
        options["cookiefile"] = Path(options["cookiefile"]).expanduser()
        if not options["cookiefile"].is_file():
            raise FileNotFoundError(f"cookies: no such file {options['cookiefile']}")
    return options


def download_segment(
    url: str, start: float, end: float, dest: Path, throttle: Mapping | None = None
) -> Path:
    """Download [start, end] seconds of the video at `url` into `dest` (MP4) and return it.

    The cut is re-encoded at its ends (force_keyframes_at_cuts) so that the clip starts on
    `start` rather than on the keyframe before it. `throttle`: options from
    `throttle_options`. Raises ClipUnavailable with yt-dlp's reason; `dest` is written
    only once the whole clip is there.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    options = {
        "format": FORMAT,
        "merge_output_format": "mp4",
        "postprocessors": [{"key": "FFmpegVideoRemuxer", "preferedformat": "mp4"}],
        "download_ranges": yt_dlp.utils.download_range_func(None, [(start, end)]),
        "force_keyframes_at_cuts": True,
        "ffmpeg_location": ffmpeg_binary(),
        "outtmpl": str(staging / "clip.%(ext)s"),
        "noplaylist": True,
        "quiet": True,
        "noprogress": True,
        "logger": log,
        "color": {"stdout": "no_color", "stderr": "no_color"},  # reasons end up in CSVs
        "cachedir": False,  # compute-cluster home directories are often read-only or tiny
        **_per_download(throttle or {}),
    }
    # yt-dlp decides whether ffmpeg can cut a segment from a context variable that only its
    # command line sets (yt_dlp/__init__.py); the `ffmpeg_location` option alone is not seen
    # there. Context variables are per thread, so parallel downloads do not interfere.
    token = FFmpegPostProcessor._ffmpeg_location.set(ffmpeg_binary())
    try:
        with yt_dlp.YoutubeDL(options) as ydl:
            info = ydl.extract_info(url, download=True)
        clip = Path(info["requested_downloads"][0]["filepath"])
        os.replace(clip, dest)
    except yt_dlp.utils.DownloadError as error:
        raise ClipUnavailable(url, str(error).removeprefix("ERROR: ")) from error
    finally:
        FFmpegPostProcessor._ffmpeg_location.reset(token)
        shutil.rmtree(staging, ignore_errors=True)
    return dest


def _per_download(throttle: Mapping) -> dict:
    """`throttle` with the cookie file given as a copy in memory: yt-dlp writes the
    cookies back to a cookie file named by path when it closes, and parallel downloads
    would overwrite the user's file at once."""
    options = dict(throttle)
    if "cookiefile" in options:
        options["cookiefile"] = io.StringIO(Path(options["cookiefile"]).read_text())
    return options
