"""The media stage's audio index: one row per manifest row of a shard, saying whether its
audio decoded (avrepro.media.shards.extract_audio_shard writes it). Read through here, so
that every reader refuses the same stale or foreign index."""

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

# clip_id; audio_status ok | no_audio | error | skipped | partial (a track decoded short
# and dropped: avrepro.media.partial); n_samples (0 unless ok); silent (an ok track whose
# samples are all zero); audio_seconds (decoded); media_seconds (the longest duration the
# header gives); partial (audio_seconds short of it beyond the tolerance); reason.
AUDIO_INDEX_COLUMNS = [
    "clip_id", "audio_status", "n_samples", "silent", "audio_seconds", "media_seconds",
    "partial", "reason",
]  # fmt: skip
SOUND_COLUMNS = ("clip_id", "audio_status", "silent")  # what "has sound" is decided by


def read_audio_index(
    paths: Iterable[Path], columns: Iterable[str] = SOUND_COLUMNS
) -> pd.DataFrame:
    """The concatenated audio indexes of a dataset's shards, each of which must hold
    `columns` (by default those that say whether a clip has sound)."""
    frames = []
    for path in paths:
        index = pd.read_csv(path)
        missing = [c for c in columns if c not in index.columns]
        if missing:
            raise ValueError(
                f"{path}: audio index without {missing}; it predates them (the `silent` "
                "column came with silent-track detection): rerun the media stage"
            )
        frames.append(index)
    if not frames:
        raise ValueError("no audio index to read")
    index = pd.concat(frames, ignore_index=True)
    if "silent" in index.columns:
        index["silent"] = index["silent"].astype(bool)
    return index


def sounding(index: pd.DataFrame) -> pd.Series:
    """Per row: the clip has sound, an audio track that decoded to samples (status ok)
    that are not all zero."""
    return (index["audio_status"] == "ok") & ~index["silent"]
