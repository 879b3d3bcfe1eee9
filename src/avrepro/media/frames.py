"""RGB frames out of videos, sampled the way each paper's visual backbone expects.

Every sampler decodes the clip once (all frames, resized, each with its presentation
time) and then picks frames by time: the frame a sampler wants at time t is the one on
screen at t. Clips in the five datasets are short (seconds, at most a few minutes for
UCF101/ActivityNet-style clips), so holding them decoded at a 256-pixel short side costs
tens to a few hundred MB, and picking among decoded frames is exact where seeking in
compressed streams is not.

Decoding is PyAV's (FFmpeg's libraries, in-process): it gives each frame's timestamps
and the stream's pixel aspect directly, where the ffmpeg command line would have them
parsed out of console text. Times, not frame counts, place the samples, so a
variable-frame-rate clip (30 fps, then 10 fps) is sampled where its pictures are shown;
for a constant-rate clip picking by time chooses the same frames as picking by index.
"""

import hashlib
import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from avrepro.media.partial import header_seconds
from avrepro.media.probe import MediaError

# What `sample_fps` makes of each picture: squeezed to a square, or resized and cropped.
FPS_PICTURE_KEYS = ({"size"}, {"short_side", "crop"})
# Times are exact rationals (pts x time base) turned into floats; a frame whose time
# equals a wanted time must count as on screen at it despite the float rounding. A
# microsecond is far below any time base in use and far above float error.
TIME_SLACK_S = 1e-6


@dataclass(frozen=True)
class Video:
    """A clip's decoded picture."""

    frames: np.ndarray  # (T, H, W, 3) uint8 RGB, upright, resized
    times: np.ndarray  # (T,) float64 presentation times, seconds after the first frame
    seconds: float  # decoded duration: from the first frame's time to the last one's end
    header_seconds: float | None  # the longest duration the file's header gives


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


def on_screen(times: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """For each wanted time, the index of the frame on screen then: the last frame whose
    time is at most it (the first frame for a time before it)."""
    after = np.searchsorted(times, np.asarray(wanted) + TIME_SLACK_S, side="right")
    return np.maximum(after - 1, 0)


def tsn_indices(times: np.ndarray, seconds: float, n_segments: int) -> np.ndarray:
    """TSN's segment centres by time: the frame on screen at the middle of each of
    `n_segments` equal parts of the clip's `seconds`. For frames at a constant rate this
    is segment_indices(len(times), n_segments)."""
    return on_screen(times, (np.arange(n_segments) + 0.5) * seconds / n_segments)


def tsn_random_indices(
    times: np.ndarray, seconds: float, n_segments: int, rng: np.random.Generator
) -> np.ndarray:
    """TSN's training sampling by time: one frame at a uniformly random time inside each
    of `n_segments` equal parts of the clip's `seconds` (tsn-pytorch's `_sample_indices`,
    which draws a random offset inside each segment, with times in place of frame counts
    as tsn_indices has them)."""
    return on_screen(times, (np.arange(n_segments) + rng.random(n_segments)) * seconds
                     / n_segments)


def clip_rng(clip_id: str, spec: dict) -> np.random.Generator:
    """A generator of a clip's own under a frame spec: a rebuilt shard draws the same
    random frames, whichever shard or job the clip lands in."""
    key = json.dumps([clip_id, spec], sort_keys=True).encode()
    return np.random.default_rng(np.frombuffer(hashlib.sha256(key).digest(), np.uint32))


def window_indices(
    times: np.ndarray, seconds: float, n_clips: int, frames_per_clip: int
) -> np.ndarray:
    """MAFnet's one-second windows by time: (n_windows, frames_per_clip) frame indices.

    A frame belongs to the window holding the middle of its time on screen (from its
    time to the next frame's): at a constant rate, window w starts at the frame nearest
    to w seconds, as it did when windows were cut by frame counts, and a trailing
    partial second makes a window when a frame's middle lies in it. Inside a window the
    frames are the TSN segment centres; a window no frame's middle falls in (a picture
    held still for over a second) repeats the frame on screen at its centre.
    """
    ends = np.append(times[1:], seconds)
    window_of = np.floor((times + ends) / 2 + TIME_SLACK_S).astype(np.int64)
    n_windows = min(n_clips, int(window_of[-1]) + 1)
    windows = []
    for window in range(n_windows):
        members = np.flatnonzero(window_of == window)
        if len(members):
            windows.append(members[0] + segment_indices(len(members), frames_per_clip))
        else:
            windows.append(np.repeat(on_screen(times, [window + 0.5]), frames_per_clip))
    return np.stack(windows)


def fps_indices(times: np.ndarray, seconds: float, rate: float, duration: float) -> np.ndarray:
    """`rate` frames a second for `duration` seconds: the frame on screen at the centre
    of each 1/rate-second slot, t_k = (k + 1/2) / rate, for the slots that start before
    the clip's `seconds` end (at least one)."""
    wanted = (np.arange(int(round(rate * duration))) + 0.5) / rate
    inside = wanted[wanted < seconds - TIME_SLACK_S]
    return on_screen(times, inside if len(inside) else wanted[:1])


def read_video(path: str | Path, short_side: int | None = None, size: int | None = None) -> Video:
    """Decode every frame of the first video stream with its presentation time.

    Frames are resized so that the short side of the picture as displayed (pixel aspect
    applied, display rotation applied) is `short_side`, or squeezed to size x size.
    Raises FileNotFoundError for a missing file, MediaError when the file has no video
    stream or none of it decodes. Packets that fail to decode are skipped, as the ffmpeg
    command line skips them; a stream cut short shows as `seconds` short of
    `header_seconds` (avrepro.media.partial).
    """
    if (short_side is None) == (size is None):
        raise ValueError("give short_side or size")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"media file not found: {path}")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(path, "no video stream")
            stream = container.streams.video[0]
            # Frame and slice threads, as the ffmpeg command line decodes.
            stream.thread_type = "AUTO"
            frames, pts, dts, last_duration = _decode(container, stream, short_side, size)
            if not frames:
                raise MediaError(path, "no video frames could be decoded")
            times = _presentation_times(path, pts, dts, stream.time_base)
            seconds = times[-1] + _last_frame_seconds(times, last_duration, stream)
            return Video(np.stack(frames), times, float(seconds), header_seconds(container))
    except av.FFmpegError as error:
        raise MediaError(path, f"video decoding failed: {error}") from None


def read_frames(path: str | Path, short_side: int) -> np.ndarray:
    """Every frame of the first video stream, resized so the short side is `short_side`:
    a (T, H, W, 3) uint8 RGB array."""
    return read_video(path, short_side=short_side).frames


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
    return pick_tsn(read_video(path, short_side=short_side), n_segments, crop)


def pick_tsn(video: Video, n_segments: int, crop: int, random_views: int = 0,
             rng: np.random.Generator | None = None) -> np.ndarray:
    """sample_tsn's frames out of a decoded video: (n_segments, crop, crop, 3), or with
    `random_views` V, (1 + V, n_segments, crop, crop, 3): view 0 the segment centres (the
    test protocol), views 1..V TSN's training snippets drawn from `rng` (MAiVAR §3.3)."""
    cropped = center_crop(video.frames, crop)
    centres = cropped[tsn_indices(video.times, video.seconds, n_segments)]
    if not random_views:
        return centres
    snippets = [cropped[tsn_random_indices(video.times, video.seconds, n_segments, rng)]
                for _ in range(random_views)]
    return np.stack([centres, *snippets])


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
    Windows are cut by the frames' presentation times (window_indices).
    """
    video = read_video(path, short_side=short_side)
    return pick_clips(video, n_clips, frames_per_clip, crop)


def pick_clips(video: Video, n_clips: int, frames_per_clip: int, crop: int) -> np.ndarray:
    """sample_clips's frames out of a decoded video."""
    indices = window_indices(video.times, video.seconds, n_clips, frames_per_clip)
    return center_crop(video.frames, crop)[indices]


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
    Frame k is the one on screen at the centre of its 1/rate-second slot, t_k = (k + 1/2)
    / rate, so that a 10 s clip at 2 fps gives 20 frames spread evenly over it; a shorter
    clip gives fewer (the caller pads).
    """
    picture = {"size": size, "short_side": short_side, "crop": crop}
    given = {key for key, value in picture.items() if value is not None}
    if given not in FPS_PICTURE_KEYS:
        raise ValueError(f"give size, or short_side and crop; got {sorted(given) or 'none'}")
    video = read_video(path, short_side=short_side, size=size)
    return pick_fps(video, rate, seconds, crop)


def pick_fps(video: Video, rate: float, seconds: float, crop: int | None = None) -> np.ndarray:
    """sample_fps's frames out of a decoded video (centre-cropped when `crop` is given)."""
    frames = video.frames if crop is None else center_crop(video.frames, crop)
    return frames[fps_indices(video.times, video.seconds, rate, seconds)]


def output_size(width: float, height: int, short_side: int) -> tuple[int, int]:
    """(width, height) with the short side set to `short_side` and the aspect ratio kept.

    `width` is the displayed width (the stored width times the pixel aspect), so that
    non-square pixels (a 64:51 DV-style aspect) come out as the picture is shown. The
    long side is rounded to an even number, as ffmpeg's `scale=-2` does, so that the
    frames can also be re-encoded as yuv420 video (e.g. for inspection) unchanged.
    """
    if width <= height:
        return short_side, 2 * round(height * short_side / width / 2)
    return 2 * round(width * short_side / height / 2), short_side


def _decode(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    short_side: int | None,
    size: int | None,
) -> tuple[list[np.ndarray], list, list, int]:
    """(resized upright RGB frames, their pts, their dts, the last frame's duration in
    time-base units, 0 if unknown), packet by packet."""
    frames, pts, dts, last_duration = [], [], [], 0
    shape = None  # (width, height) to scale to, and quarter turns, from the first frame
    # One scaler for the clip: a frame's own `to_ndarray(width=...)` sets up a new one for
    # every frame, which took four fifths of the decoding time.
    scaler = VideoReformatter()
    for packet in container.demux(stream):
        try:
            decoded = packet.decode()
        except av.InvalidDataError:
            continue  # a damaged packet: the frames around it still count
        for frame in decoded:
            if shape is None:
                shape = _scaled_shape(frame, stream, short_side, size)
            (width, height), quarter_turns = shape
            rgb = scaler.reformat(
                # Bilinear, as mmcv's imresize (used by the TSN/mmaction2 pipelines) defaults.
                frame, width=width, height=height, format="rgb24", interpolation="BILINEAR"
            ).to_ndarray()
            frames.append(np.rot90(rgb, quarter_turns) if quarter_turns else rgb)
            pts.append(frame.pts)
            dts.append(frame.dts)
            last_duration = frame.duration or 0
    return frames, pts, dts, last_duration


def _scaled_shape(
    frame: av.VideoFrame, stream: av.VideoStream, short_side: int | None, size: int | None
) -> tuple[tuple[int, int], int]:
    """((width, height) to scale the stored picture to, quarter turns to make it upright).

    The display rotation is the one ffmpeg's command line applies by default (phone
    videos); the pixel aspect is the stream's (container or codec), 1 when unset.
    """
    quarter_turns = round((frame.rotation or 0) / 90) % 4
    if size is not None:
        return (size, size), quarter_turns
    aspect = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
    display_width = frame.width * (Fraction(aspect) if aspect else 1)
    if quarter_turns % 2:  # shown turned a quarter: size it upright, scale it as stored
        height, width = output_size(frame.height, display_width, short_side)
    else:
        width, height = output_size(display_width, frame.height, short_side)
    # The stored width carries the pixel aspect: scaling to the display width squares it.
    return (width, height), quarter_turns


def _presentation_times(path: Path, pts: list, dts: list, time_base: Fraction) -> np.ndarray:
    """Seconds after the first frame, in the decoder's output (presentation) order.

    A container's pts can be missing or out of order (AVIs store none, and B-frames
    reorder the guesses) while its dts run in order, or the other way round; FFmpeg's
    own best-effort timestamp takes the series with fewer steps that are missing or go
    backwards, and so do we (pts on a tie). A value still missing (the dts of frames
    flushed out of the decoder at the end) is the previous one plus the usual step.
    """
    series = [np.array([np.nan if v is None else v for v in s], dtype=float) for s in (pts, dts)]
    # A comparison with NaN is False, so a missing value counts as a faulty step.
    ticks = min(series, key=lambda t: int(np.sum(~(np.diff(t) > 0))))
    if np.isnan(ticks).all():
        raise MediaError(path, "video frames without timestamps")
    steps = np.diff(ticks)
    step = np.nanmedian(steps) if np.isfinite(steps).any() else 0.0
    for i in np.flatnonzero(np.isnan(ticks)):
        ticks[i] = ticks[i - 1] + step if i else np.nanmin(ticks) - step
    ticks = np.maximum.accumulate(ticks)  # never backwards
    return (ticks - ticks[0]) * float(time_base)


def _last_frame_seconds(times: np.ndarray, last_duration: int, stream: av.VideoStream) -> float:
    """How long the last frame is shown: its own duration when the container gives one,
    else the interval before it, else one frame at the stream's rate (a single frame)."""
    if last_duration > 0:
        return last_duration * float(stream.time_base)
    if len(times) > 1:
        return float(times[-1] - times[-2])
    rate = stream.guessed_rate or stream.average_rate
    return 1 / float(rate) if rate else 0.0

