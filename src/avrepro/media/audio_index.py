"""The media stage's audio index: one row per manifest row of a shard, saying whether its
audio decoded (avrepro.media.shards.extract_audio_shard writes it). Read through here, so
that every reader refuses the same stale or foreign index."""

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

# clip_id; audio_status ok | no_audio | error | skipped; n_samples (0 unless ok); silent
# (an ok track whose samples are all zero); reason.
AUDIO_INDEX_COLUMNS = ["clip_id", "audio_status", "n_samples", "silent", "reason"]


def read_audio_index(paths: Iterable[Path]) -> pd.DataFrame:
    """The concatenated audio indexes of a dataset's shards."""
    frames = []
    for path in paths:
        index = pd.read_csv(path)
        missing = [c for c in AUDIO_INDEX_COLUMNS if c not in index.columns]
        if missing:
            raise ValueError(
                f"{path}: audio index without {missing}; it predates them (the `silent` "
                "column came with silent-track detection): rerun the media stage"
            )
        frames.append(index)
    if not frames:
        raise ValueError("no audio index to read")
    index = pd.concat(frames, ignore_index=True)
    index["silent"] = index["silent"].astype(bool)
    return index


def sounding(index: pd.DataFrame) -> pd.Series:
    """Per row: the clip has sound, an audio track that decoded to samples (status ok)
    that are not all zero."""
    return (index["audio_status"] == "ok") & ~index["silent"]
