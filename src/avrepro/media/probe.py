"""What a media file holds: duration, frame rate, picture size, which streams.

imageio-ffmpeg ships no ffprobe, so we run `ffmpeg -hide_banner -i PATH` (no output
file) and read the summary it prints to stderr:

    Duration: 00:00:06.56, start: 0.000000, bitrate: 359 kb/s
    Stream #0:0: Video: mpeg4 (XVID / 0x44495658), yuv420p, 320x240 [SAR 1:1 DAR 4:3], 25 fps
    Stream #0:1: Audio: mp3 (mp3float), 44100 Hz, stereo, fltp, 125 kb/s

This summary has kept the same shape for well over a decade of ffmpeg releases
(it is what countless scripts parse), which is why parsing it is an acceptable
stand-in for ffprobe's JSON.
"""

import errno
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from avrepro.media.ffmpeg import ffmpeg_binary

CLIP_STATUSES = ("ok", "missing", "empty", "corrupt", "no_video")

_DURATION = re.compile(r"Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_STREAM = re.compile(r"^\s*Stream #\d+:\d+.*?: (Video|Audio): (.*)$", re.MULTILINE)
_SIZE = re.compile(r", (\d+)x(\d+)\b")
_FPS = re.compile(r"([\d.]+)(k?) fps\b")
# Phone videos store their orientation as a display matrix; ffmpeg rotates decoded
# frames upright by default, so the size we report is the upright one.
_ROTATION = re.compile(r"rotation of (-?[\d.]+) degrees", re.IGNORECASE)


class MediaError(Exception):
    """A media file that exists but cannot be read (empty, truncated, corrupt)."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class Probe:
    duration: float | None  # seconds; None when the container does not say
    fps: float | None  # average frame rate of the first video stream
    width: int | None  # upright picture size of the first video stream
    height: int | None
    has_video: bool
    has_audio: bool


def probe(path: str | Path) -> Probe:
    """Read the stream summary of a media file.

    Raises FileNotFoundError when `path` is not a file, MediaError when ffmpeg cannot
    open it or finds neither audio nor video in it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(errno.ENOENT, "media file not found", str(path))
    if path.stat().st_size == 0:
        raise MediaError(path, "empty file (0 bytes)")
    # Without an output file ffmpeg always exits non-zero ("At least one output file
    # must be specified"), so success is judged from the summary, not the exit code.
    completed = subprocess.run(
        [ffmpeg_binary(), "-hide_banner", "-nostdin", "-i", str(path)],
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
    )
    return parse_probe(path, completed.stderr)


def parse_probe(path: str | Path, stderr: str) -> Probe:
    """Parse the stderr of `ffmpeg -i PATH`; `path` is only used in error messages."""
    if "Input #0" not in stderr:
        raise MediaError(path, f"ffmpeg cannot open it: {stderr_tail(stderr)}")

    # Cover art in audio files is a one-frame "video" stream; it is not a video.
    streams = [
        (kind, description)
        for kind, description in _STREAM.findall(stderr)
        if "(attached pic)" not in description
    ]
    videos = [description for kind, description in streams if kind == "Video"]
    has_audio = any(kind == "Audio" for kind, _ in streams)
    if not videos and not has_audio:
        raise MediaError(path, "no audio or video stream")

    duration_match = _DURATION.search(stderr)
    duration = None
    if duration_match:
        hours, minutes, seconds = duration_match.groups()
        duration = int(hours) * 3600 + int(minutes) * 60 + float(seconds)

    width = height = fps = None
    if videos:
        size_match = _SIZE.search(videos[0])
        if size_match:
            width, height = int(size_match[1]), int(size_match[2])
            rotation = _ROTATION.search(stderr)
            if rotation and round(abs(float(rotation[1]))) % 180 == 90:
                width, height = height, width
        fps_match = _FPS.search(videos[0])
        if fps_match:
            # ffmpeg writes 1000 fps and above as "1k fps".
            fps = float(fps_match[1]) * (1000 if fps_match[2] else 1)

    return Probe(
        duration=duration,
        fps=fps,
        width=width,
        height=height,
        has_video=bool(videos),
        has_audio=has_audio,
    )


def clip_status(path: str | Path) -> tuple[str, Probe | None, str]:
    """Classify a clip for the manifest: (status, probe or None, reason).

    Never raises for bad media; status is one of CLIP_STATUSES. This only reads the
    container header: a file whose header is intact but whose streams are cut short is
    "ok" here; the media stage, which decodes it, records it as partial
    (avrepro.media.partial).
    """
    path = Path(path)
    try:
        info = probe(path)
    except FileNotFoundError:
        return "missing", None, f"{path}: file not found"
    except MediaError as error:
        status = "empty" if path.stat().st_size == 0 else "corrupt"
        return status, None, str(error)
    if not info.has_video:
        return "no_video", info, f"{path}: no video stream"
    return "ok", info, ""


def stderr_tail(stderr: str | bytes, n_lines: int = 5) -> str:
    """The last distinct lines of ffmpeg's stderr (e.g. "moov atom not found"), on one line.

    ffmpeg's "[demuxer @ 0x...]" prefixes are dropped: their addresses differ from run to
    run and say nothing to the reader.
    """
    if isinstance(stderr, bytes):
        stderr = stderr.decode(errors="replace")
    lines = [re.sub(r"^\[[^\]]*\]\s*", "", line).strip() for line in stderr.splitlines()]
    distinct = list(dict.fromkeys(line for line in lines if line))
    return "; ".join(distinct[-n_lines:]) or "no output"
