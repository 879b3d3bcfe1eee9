"""Partial media: a clip whose streams decode to less than its header promises.

A download cut short can keep a header that gives the whole length (an AVI's comes
first, as does an MP4's index when written with `+faststart`), and a clip's audio track
can end long before its picture. ffmpeg plays either up to where it stops, so nothing
fails; the media stage instead records the seconds it decoded beside the header's, and
calls the clip partial when they fall short by more than config `media.
partial_tolerance_s`. `media.partial` says whether such clips are kept (flagged) or
dropped (their media status is "partial", which no reader takes as "ok").
"""

import struct
from pathlib import Path

import av

PARTIAL_POLICIES = ("keep", "drop")


def header_seconds(container: av.container.InputContainer) -> float | None:
    """The longest duration the header gives: the container's or any audio or video
    stream's (cover art excluded), or None when it gives none.

    The longest, because a cut-short stream is what is being looked for: a clip whose
    audio stops at 1 s of a 4-s picture has a 4-s container and video stream.
    """
    durations = [container.duration / av.time_base] if container.duration else []
    for stream in container.streams:
        if stream.type not in ("audio", "video") or not stream.duration:
            continue
        if stream.disposition & av.stream.Disposition.attached_pic:
            continue
        durations.append(float(stream.duration * stream.time_base))
    if container.format.name == "avi":
        durations.append(_avi_main_header_seconds(container.name))
    return max((d for d in durations if d), default=None)


def _avi_main_header_seconds(path: str) -> float | None:
    """The length an AVI's main header (avih) was written with: frame time x frames.

    FFmpeg rescans an AVI whose index (written last) is lost and reports only the part
    that remains, so a cut-short AVI would look whole; its main header, written first
    and never rescanned, still says how long it was.
    """
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    at = head.find(b"avih")
    if at < 0 or len(head) < at + 28:
        return None
    # avih: chunk id and size, then dwMicroSecPerFrame, three fields, dwTotalFrames.
    micros, _, _, _, total = struct.unpack("<5I", head[at + 8 : at + 28])
    return micros * total / 1e6 or None


def file_header_seconds(path: str | Path) -> float | None:
    """header_seconds of the file at `path`, or None when it cannot be opened (the
    caller has decoded it already, so it can only be a header too broken to read)."""
    try:
        with av.open(str(path)) as container:
            return header_seconds(container)
    except av.FFmpegError:
        return None


def is_partial(decoded_s: float, header_s: float | None, tolerance_s: float) -> bool:
    """Whether `decoded_s` falls short of the header's `header_s` by more than `tolerance_s`."""
    return header_s is not None and decoded_s < header_s - tolerance_s


def shortfall(what: str, decoded_s: float, header_s: float) -> str:
    """The index's reason for a partial clip, e.g. 'video decoded 1.46 s of 1.53 s'."""
    return f"partial: {what} decoded {decoded_s:.2f} s of the header's {header_s:.2f} s"


def check_policy(policy: str, tolerance_s: float) -> None:
    """Refuse a `media` config section the stage cannot apply, naming the key."""
    if policy not in PARTIAL_POLICIES:
        raise ValueError(f"media.partial must be one of {PARTIAL_POLICIES}, got {policy!r}")
    if tolerance_s < 0:
        raise ValueError(f"media.partial_tolerance_s must not be negative, got {tolerance_s}")
