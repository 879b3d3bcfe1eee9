"""Fetch one segment of an online video with yt-dlp (Kinetics clips are YouTube segments)."""

import logging
import os
import shutil
import tempfile
from pathlib import Path

import yt_dlp
from yt_dlp.postprocessor.ffmpeg import FFmpegPostProcessor

from avrepro.media.ffmpeg import ffmpeg_binary

log = logging.getLogger(__name__)

WATCH_URL = "https://www.youtube.com/watch?v={youtube_id}"
# MP4 with audio first: a merged mp4 + m4a pair, else a single mp4 file, else the best
# of anything (remuxed to MP4 below), so every clip ends up in the same container.
FORMAT = "bv*[ext=mp4]+ba[ext=m4a]/b[ext=mp4]/bv*+ba/b"


class ClipUnavailable(Exception):
    """yt-dlp could not fetch the clip: vanished, private, geo-blocked, or unreachable."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


def youtube_url(youtube_id: str) -> str:
    return WATCH_URL.format(youtube_id=youtube_id)


def download_segment(url: str, start: float, end: float, dest: Path) -> Path:
    """Download [start, end] seconds of the video at `url` into `dest` (MP4) and return it.

    The cut is re-encoded at its ends (force_keyframes_at_cuts) so that the clip starts on
    `start` rather than on the keyframe before it. Raises ClipUnavailable with yt-dlp's
    reason; `dest` is written only once the whole clip is there.
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
