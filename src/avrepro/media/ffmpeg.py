"""Which ffmpeg binary to run.

A system ffmpeg on PATH wins (cluster modules usually provide one); otherwise
the static binary that the imageio-ffmpeg wheel ships, so that a fresh
virtual environment is enough to decode and encode.
"""

import functools
import shutil


@functools.cache
def ffmpeg_binary() -> str:
    system = shutil.which("ffmpeg")
    if system:
        return system
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()
