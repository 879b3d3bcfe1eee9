"""RGB frames out of videos, sampled the way each paper's visual backbone expects.

Every sampler decodes the clip once (all frames, resized by ffmpeg) and then picks
frames by index. Clips in the five datasets are short (seconds, at most a few
minutes for UCF101/ActivityNet-style clips), so holding them decoded at a 256-pixel
short side costs tens to a few hundred MB, and picking by index is exact where
seeking in compressed streams is not.
"""

import math
from pathlib import Path

import ffmpeg
import numpy as np

from avrepro.media.ffmpeg import ffmpeg_binary
from avrepro.media.probe import MediaError, Probe, probe, stderr_tail

# What `sample_fps` makes of each picture: squeezed to a square, or resized and cropped.
FPS_PICTURE_KEYS = ({"size"}, {"short_side", "crop"})


def segment_indices(n_frames: int, n_segments: int) -> np.ndarray:
    """TSN's test-time sampling: the centre frame of each of `n_segments` equal segments.

    This is mmaction2's SampleFrames in test mode with clip_len=1:
    index_k = floor((k + 1/2) * n_frames / n_segments). When the clip has fewer frames
    than segments, neighbouring segments share a frame, so indices repeat (as in
    mmaction2) and every clip still yields `n_segments` frames.
    """
    if n_frames < 1 or n_segments < 1:
        raise ValueError(f"need n_frames >= 1 and n_segments >= 1, got {n_frames}, {n_segments}")
    segment_length = n_frames / n_segments
    return ((np.arange(n_segments) + 0.5) * segment_length).astype(np.int64)


def read_frames(path: str | Path, short_side: int) -> np.ndarray:
    """Decode every frame of the first video stream, resized so the short side is `short_side`.

    Returns a read-only (T, H, W, 3) uint8 RGB array (a view of ffmpeg's output).
    """
    info = probe(path)
    return _decode(Path(path), info, *_short_side_size(path, info, short_side))


def center_crop(frames: np.ndarray, size: int) -> np.ndarray:
    """The central size x size window of (..., H, W, 3) frames (a view, no copy)."""
    height, width = frames.shape[-3:-1]
    if size > height or size > width:
        raise ValueError(f"crop {size} is larger than the frames ({height}x{width})")
    # Same offsets as mmaction2's CenterCrop: the odd pixel goes to the bottom/right.
    top, left = (height - size) // 2, (width - size) // 2
    return frames[..., top : top + size, left : left + size, :]


def sample_tsn(path: str | Path, n_segments: int, short_side: int, crop: int) -> np.ndarray:
    """TSN test-time input: the centre frame of each segment, centre-cropped.

    Returns (n_segments, crop, crop, 3) uint8.
    """
    frames = read_frames(path, short_side)  # (T, H, W, 3)
    return center_crop(frames, crop)[segment_indices(len(frames), n_segments)]


def sample_clips(
    path: str | Path, n_clips: int, frames_per_clip: int, short_side: int, crop: int
) -> np.ndarray:
    """MAFnet input: consecutive one-second windows, `frames_per_clip` frames from each.

    Returns (n_windows, frames_per_clip, crop, crop, 3) uint8 with n_windows <= n_clips.
    MAFnet (after Tian et al.'s AVE setup) cuts a video into T=10 non-overlapping 1-s
    clips of 16 frames. Choices the paper leaves open:
    - a trailing partial second makes a window of its own, as VGGish's audio windows do
      (avrepro.features.vggish.count_windows), so that both modalities count the same
      windows: a 9.96 s AVE video has 10;
    - a video shorter than `n_clips` seconds gives fewer windows; the caller zero-pads
      and keeps the count of valid windows;
    - inside a window the frames are the TSN segment centres (evenly spaced), so a
      window holding fewer than `frames_per_clip` frames repeats some.
    Windows are located with the container's average frame rate, i.e. the video is
    taken as constant-frame-rate, which holds for the datasets' transcoded clips.
    """
    info = probe(path)
    if not info.fps:
        raise MediaError(path, "frame rate unknown, cannot cut one-second windows")
    frames = _decode(Path(path), info, *_short_side_size(path, info, short_side))  # (T, H, W, 3)
    # Half a frame of slack: a 3 s clip whose container says 14.99 fps is 3 windows, not 4.
    n_windows = min(n_clips, max(1, math.ceil((len(frames) - 0.5) / info.fps)))
    windows = []
    for window in range(n_windows):
        # A last window that rounding leaves empty keeps the clip's last frame.
        start = min(round(window * info.fps), len(frames) - 1)
        stop = min(max(round((window + 1) * info.fps), start + 1), len(frames))
        windows.append(start + segment_indices(stop - start, frames_per_clip))
    indices = np.stack(windows)  # (n_windows, frames_per_clip)
    return center_crop(frames, crop)[indices]


def sample_fps(
    path: str | Path,
    rate: float,
    seconds: float,
    size: int | None = None,
    short_side: int | None = None,
    crop: int | None = None,
) -> np.ndarray:
    """`rate` frames per second, each squeezed to size x size or resized and centre-cropped.

    Returns (n, side, side, 3) uint8 with n <= rate * seconds, side being `size` or
    `crop`. Give exactly one of:
    - `size`: the whole picture squeezed to size x size, no crop. Two-phase (Pham et al.)
      takes "two images from each second" of the 10 s DCASE clips, scaled to 224 x 224.
    - `short_side` and `crop`: aspect kept, short side resized, central crop x crop, as
      `sample_tsn` does. Lee et al. (§3.2) fine-tune TSN on Moments in Time "sampled at
      6 FPS"; TSN's inputs are resized frames centre-cropped to 224.
    Frame k is the one shown at the centre of its 1/rate-second slot, t_k = (k + 1/2) /
    rate, so that a 10 s clip at 2 fps gives 20 frames spread evenly over it; a shorter
    clip gives fewer (the caller pads).
    """
    picture = {"size": size, "short_side": short_side, "crop": crop}
    given = {key for key, value in picture.items() if value is not None}
    if given not in FPS_PICTURE_KEYS:
        raise ValueError(f"give size, or short_side and crop; got {sorted(given) or 'none'}")
    info = probe(path)
    if not info.fps:
        raise MediaError(path, "frame rate unknown, cannot sample frames per second")
    if size is not None:
        frames = _decode(Path(path), info, size, size)  # (T, size, size, 3)
    else:
        frames = _decode(Path(path), info, *_short_side_size(path, info, short_side))
        frames = center_crop(frames, crop)  # (T, crop, crop, 3), a view
    duration = len(frames) / info.fps
    times = (np.arange(int(round(rate * seconds))) + 0.5) / rate
    times = times[times < duration] if duration > times[0] else times[:1]
    return frames[np.minimum((times * info.fps).astype(np.int64), len(frames) - 1)]


def output_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """(width, height) with the short side set to `short_side` and the aspect ratio kept.

    The long side is rounded to an even number, as ffmpeg's `scale=-2` does, so that the
    frames can also be re-encoded as yuv420 video (e.g. for inspection) unchanged.
    Pixels are taken as square, as they are in UCF101, Kinetics, AVE and MiT clips.
    """
    if width <= height:
        return short_side, 2 * round(height * short_side / width / 2)
    return 2 * round(width * short_side / height / 2), short_side


def _short_side_size(path: str | Path, info: Probe, short_side: int) -> tuple[int, int]:
    if not info.has_video or info.width is None or info.height is None:
        raise MediaError(path, "no video stream with a known picture size")
    return output_size(info.width, info.height, short_side)


def _decode(path: Path, info: Probe, width: int, height: int) -> np.ndarray:
    """All frames of `path` at width x height as (T, H, W, 3) uint8, through an ffmpeg
    rawvideo pipe."""
    if not info.has_video:
        raise MediaError(path, "no video stream")
    stream = ffmpeg.input(str(path)).output(
        "pipe:",
        map="0:v:0",
        format="rawvideo",
        pix_fmt="rgb24",
        # Bilinear, as mmcv's imresize (used by the TSN/mmaction2 pipelines) defaults to.
        vf=f"scale={width}:{height}:flags=bilinear",
        # Every decoded frame once: no duplication or dropping to a constant rate.
        fps_mode="passthrough",
    )
    try:
        raw, _ = stream.global_args("-nostdin", "-hide_banner").run(
            cmd=ffmpeg_binary(), capture_stdout=True, capture_stderr=True
        )
    except ffmpeg.Error as error:
        raise MediaError(path, f"video decoding failed: {stderr_tail(error.stderr)}") from None
    if not raw:
        raise MediaError(path, "no video frames could be decoded")
    frame_bytes = height * width * 3
    if len(raw) % frame_bytes:
        raise MediaError(path, f"decoded {len(raw)} bytes, not a whole number of frames")
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, height, width, 3)
