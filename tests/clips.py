"""Tiny real clips for media tests, made with ffmpeg's lavfi sources."""

import subprocess
from pathlib import Path

from avrepro.media.ffmpeg import ffmpeg_binary


def make_clip(path: Path, *, audio: bool = True, before_input: tuple[str, ...] = ()) -> Path:
    """A 2-s 64x48 10-fps H.264 clip (testsrc), with a 440 Hz 44.1 kHz AAC track when
    `audio`; `before_input` re-muxes it with input options (e.g. a display rotation)."""
    sources = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=2"]
    if audio:
        sources += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=2"]
    subprocess.run(
        [ffmpeg_binary(), "-nostdin", "-loglevel", "error", "-y", *sources, "-c:v", "libx264"]
        + (["-c:a", "aac"] if audio else [])
        + [str(path)],
        check=True,
    )
    if before_input:
        remuxed = path.with_name(f"remuxed-{path.name}")
        subprocess.run(
            [ffmpeg_binary(), "-nostdin", "-loglevel", "error", "-y", *before_input]
            + ["-i", str(path), "-c", "copy", str(remuxed)],
            check=True,
        )
        remuxed.replace(path)
    return path
