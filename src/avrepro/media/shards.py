"""Bodies of the media stage's per-shard jobs: audio WAVs and sampled frames.

A job receives its shard's manifest rows (avrepro.data.manifest.shard_rows) and
returns an index with one row per manifest row, so that a clip that cannot be
decoded is a recorded status, never a failed job.
"""

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile
from tqdm import tqdm

from avrepro.data.manifest import audio_file
from avrepro.media.audio import extract_audio
from avrepro.media.audio_index import AUDIO_INDEX_COLUMNS
from avrepro.media.frame_store import FrameShardWriter
from avrepro.media.frames import (
    FPS_PICTURE_KEYS,
    Video,
    clip_rng,
    pick_clips,
    pick_fps,
    pick_tsn,
    read_video,
)
from avrepro.media.partial import check_policy, file_header_seconds, is_partial, shortfall
from avrepro.media.probe import MediaError

# Samples per channel read at a time when checking a WAV for silence.
_SILENCE_BLOCK = 1 << 16
# video_seconds: decoded; media_seconds: the longest duration the header gives; partial:
# the first short of the second by more than the tolerance (avrepro.media.partial).
FRAMES_INDEX_COLUMNS = [
    "clip_id", "frames_status", "video_seconds", "media_seconds", "partial", "reason"
]  # fmt: skip
_SPEC_KEYS = {
    # Plus, optionally, `random_views`: TSN's training snippets besides the centres.
    "tsn": ("segments", "short_side", "crop"),
    "clips": ("clips", "frames_per_clip", "short_side", "crop"),
    # Plus `size`, or `short_side` and `crop` (frames.FPS_PICTURE_KEYS).
    "fps": ("fps", "seconds"),
}


def extract_audio_shard(
    rows: pd.DataFrame,
    out_dir: Path,
    sample_rate: int,
    channels: int = 1,
    partial_policy: str = "keep",
    tolerance_s: float = 0.1,
) -> pd.DataFrame:
    """Write `out_dir/{clip_id}.wav` for each usable manifest row; return the audio index.

    Index columns: clip_id, audio_status ("ok", "no_audio", "error", "skipped",
    "partial"), n_samples (0 unless ok), silent (True when an ok track decoded to samples
    that are all zero: digital silence), audio_seconds (decoded), media_seconds (the
    longest duration the file's header gives), partial (audio_seconds short of
    media_seconds by more than `tolerance_s`), reason. A partial track is kept ("ok",
    flagged) or, with `partial_policy="drop"`, has status "partial" and no WAV. Rows whose
    manifest status is not "ok" are skipped; rows the manifest marks soundless are
    "no_audio" without being opened. A silent track stays "ok", so that the papers that
    take every decoded track keep their clips; Lee et al.'s "with sound" also asks for
    `silent` False (avrepro.train.clips.sounding).
    """
    check_policy(partial_policy, tolerance_s)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = []
    for row in tqdm(rows.itertuples(index=False), total=len(rows), desc="audio", unit="clip"):
        if row.status != "ok":
            records.append(_no_audio_record(row.clip_id, "skipped", _skip_reason(row)))
            continue
        if not row.has_audio:
            records.append(_no_audio_record(row.clip_id, "no_audio", "manifest: no audio stream"))
            continue
        wav_path = out_dir / f"{row.clip_id}.wav"
        try:
            if not extract_audio(audio_file(row), wav_path, sample_rate, channels):
                records.append(
                    _no_audio_record(row.clip_id, "no_audio", "no audio stream in the file")
                )
                continue
        except (MediaError, OSError) as error:
            records.append(_no_audio_record(row.clip_id, "error", str(error)))
            continue
        n_samples, silent = _length_and_silence(wav_path)
        seconds = n_samples / sample_rate
        header = file_header_seconds(audio_file(row))
        short = is_partial(seconds, header, tolerance_s)
        reason = shortfall("audio", seconds, header) if short else ""
        status = "partial" if short and partial_policy == "drop" else "ok"
        if status == "partial":
            wav_path.unlink()  # no reader is to take a dropped clip's sound
        records.append((row.clip_id, status, n_samples, silent, seconds, header, short, reason))
    return pd.DataFrame.from_records(records, columns=AUDIO_INDEX_COLUMNS)


def sample_frames_shard(
    rows: pd.DataFrame,
    spec: dict,
    out_path: Path,
    partial_policy: str = "keep",
    tolerance_s: float = 0.1,
) -> pd.DataFrame:
    """Sample frames from each usable manifest row into one frames shard (JPEG images,
    avrepro.media.frame_store); return the frames index.

    `spec` is {"sampler": "tsn", "segments", "short_side", "crop"} (and optionally
    "random_views"), {"sampler": "clips", "clips", "frames_per_clip", "short_side",
    "crop"} or {"sampler": "fps", "fps", "seconds"} with "size" (squeezed) or
    "short_side" and "crop" (aspect kept, centre crop). A clip's layout (clip_shape) is
    (segments, crop, crop, 3) for "tsn" ((1 + random_views, segments, crop, crop, 3) with
    views: media.frames.pick_tsn),
    (clips, frames_per_clip, crop, crop, 3) for "clips" and (fps * seconds, side, side,
    3) for "fps", side being size or crop; `n_valid` counts a clip's real segments,
    clips or frames (all of them for "tsn"), and what lies beyond a short video's end
    reads as zeros. Index columns: FRAMES_INDEX_COLUMNS, frames_status being "ok",
    "error", "skipped" or, for a video decoded more than `tolerance_s` short of its
    header when `partial_policy` is "drop", "partial" (its frames are not stored).
    """
    check_policy(partial_policy, tolerance_s)
    read, pick, clip_shape = _sampler(spec)
    records = []
    # Each clip's frames are encoded as it is decoded: the job holds one video at a time.
    with FrameShardWriter(Path(out_path), spec["sampler"], clip_shape) as shard:
        for row in tqdm(rows.itertuples(index=False), total=len(rows), desc="frames",
                        unit="clip"):
            records.append(_sample_clip(row, read, pick, shard, partial_policy, tolerance_s))
    return pd.DataFrame.from_records(records, columns=FRAMES_INDEX_COLUMNS)


def _sample_clip(row, read, pick, shard: FrameShardWriter, partial_policy: str,
                 tolerance_s: float) -> tuple:
    """Decode one manifest row, add its sampled frames to `shard`; its frames index row."""
    if row.status != "ok":
        return (row.clip_id, "skipped", 0.0, None, False, _skip_reason(row))
    try:
        video = read(row.path)
    except (MediaError, OSError) as error:
        return (row.clip_id, "error", 0.0, None, False, str(error))
    seconds, header = video.seconds, video.header_seconds
    short = is_partial(seconds, header, tolerance_s)
    reason = shortfall("video", seconds, header) if short else ""
    status = "partial" if short and partial_policy == "drop" else "ok"
    if status == "ok":  # a dropped clip's frames are not stored
        shard.add(row.clip_id, pick(video, row.clip_id))
    return (row.clip_id, status, seconds, header, short, reason)


def _no_audio_record(clip_id: str, status: str, reason: str) -> tuple:
    """An audio index row for a clip whose audio gave no samples."""
    return (clip_id, status, 0, False, 0.0, None, False, reason)


def _length_and_silence(wav_path: Path) -> tuple[int, bool]:
    """(samples per channel, whether every sample is zero) of a 16-bit PCM WAV.

    Read in blocks, as int16, so the test is exact and a long track costs little memory.
    """
    with soundfile.SoundFile(wav_path) as wav:
        blocks = wav.blocks(_SILENCE_BLOCK, dtype="int16")
        return wav.frames, not any(block.any() for block in blocks)


def _skip_reason(row) -> str:
    return f"manifest status {row.status}: {row.reason}"


def _sampler(
    spec: dict,
) -> tuple[Callable[[str], Video], Callable[[Video, str], np.ndarray], tuple[int, ...]]:
    """(path -> decoded video, (decoded video, clip id) -> sampled frames, shape of one
    clip's frames) for a frame spec. Random picks draw from the clip's own generator
    (media.frames.clip_rng), so that a clip's frames do not depend on its shard."""
    kind = spec.get("sampler")
    if kind not in _SPEC_KEYS:
        raise ValueError(f"frame spec {spec}: 'sampler' must be one of {sorted(_SPEC_KEYS)}")
    missing = [key for key in _SPEC_KEYS[kind] if key not in spec]
    if missing:
        raise ValueError(f"frame spec {spec}: missing key(s) {missing}")
    if kind == "fps":
        picture = {key: spec[key] for key in ("size", "short_side", "crop") if key in spec}
        if set(picture) not in FPS_PICTURE_KEYS:
            raise ValueError(
                f"frame spec {spec}: the fps sampler takes 'size' (frames squeezed to size x "
                "size) or both 'short_side' and 'crop' (aspect kept, centre crop), not "
                f"{sorted(picture) or 'neither'}"
            )
        n_frames = int(round(spec["fps"] * spec["seconds"]))
        side = picture.get("size", picture.get("crop"))
        read = partial(read_video, short_side=picture.get("short_side"), size=picture.get("size"))
        pick = partial(
            pick_fps, rate=spec["fps"], seconds=spec["seconds"], crop=picture.get("crop")
        )
        return read, lambda video, _: pick(video), (n_frames, side, side, 3)
    crop = spec["crop"]
    read = partial(read_video, short_side=spec["short_side"])
    if kind == "tsn":
        views = spec.get("random_views", 0)

        def pick_views(video: Video, clip_id: str) -> np.ndarray:
            return pick_tsn(video, spec["segments"], crop, views, clip_rng(clip_id, spec))

        clip = (spec["segments"], crop, crop, 3)
        return read, pick_views, (1 + views, *clip) if views else clip
    pick = partial(
        pick_clips, n_clips=spec["clips"], frames_per_clip=spec["frames_per_clip"], crop=crop
    )
    return (read, lambda video, _: pick(video),
            (spec["clips"], spec["frames_per_clip"], crop, crop, 3))


def save_npz_atomically(
    path: Path, arrays: dict[str, np.ndarray], compressed: bool = False
) -> None:
    """Write `arrays` to the `.npz` at `path` so that it appears whole or not at all.

    Uncompressed by default, so that a reader can memory-map an array (features.store.
    open_array) and read only the rows it needs.
    `compressed` suits arrays that do shrink, such as quantised optical flow (media/flow.py).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target, so that os.replace is an atomic rename; the process id
    # keeps concurrent writers of the same file apart.
    tmp_path = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp_path, "wb") as handle:
            (np.savez_compressed if compressed else np.savez)(handle, **arrays)
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)
