"""How many clips have sound, per split: Lee et al.'s Table 1 ("the number of videos with
sound and without sound", 55,196 / 44,804 of the 100,000 training videos of Moments in
Time mini, 6,286 / 3,714 of the 10,000 validation ones).

Lee et al. (§3.2) decode the sound to 16-kHz mono 16-bit PCM WAV (PCM S16LE): a clip has
sound when its audio track demuxes to that. We also count a track whose samples are all
zero (digital silence) as without sound: it carries no sound to learn from or to
reconstruct, and the paper's "soundless" is about the sound, not the container. The
table therefore splits the soundless clips into their causes, so that the paper's count
can be compared with either reading.
"""

from pathlib import Path

import pandas as pd

from avrepro.data.manifest import SPLITS
from avrepro.media.audio_index import read_audio_index

COUNT_COLUMNS = [
    "split",
    "listed",  # manifest rows
    "usable",  # manifest status ok: the file opens and holds video
    "with_sound",  # a track that decoded to samples, not all zero
    "without_sound",  # usable - with_sound
    "no_track",  # no audio track (manifest or ffmpeg)
    "silent_track",  # a track of digital silence
    "audio_error",  # a track that would not decode, or was dropped as decoded short
    "unusable",  # listed - usable: missing, empty or undecodable files
]


def sound_counts(manifest: pd.DataFrame, audio_indexes: list[Path]) -> pd.DataFrame:
    """One row per split of `manifest` (train, val, test order; those it has): COUNT_COLUMNS.

    `audio_indexes` are the media stage's audio shard indexes (media.shards.
    media.audio_index) over the manifest's rows; every usable clip must be in one.
    For each split, usable = with_sound + no_track + silent_track + audio_error.
    """
    audio = read_audio_index(audio_indexes).set_index("clip_id")
    usable = manifest[manifest["status"] == "ok"]
    unindexed = sorted(set(usable["clip_id"]) - set(audio.index))
    if unindexed:
        raise ValueError(
            f"{len(unindexed)} usable clips are in no audio index (e.g. {unindexed[:3]}): "
            "the indexes must cover the manifest's shards"
        )
    status = usable["clip_id"].map(audio["audio_status"])
    silent = usable["clip_id"].map(audio["silent"]).fillna(False).astype(bool)
    kinds = pd.DataFrame(
        {
            "split": usable["split"],
            "with_sound": (status == "ok") & ~silent,
            "no_track": ~usable["has_audio"].astype(bool) | (status == "no_audio"),
            "silent_track": (status == "ok") & silent,
            # A track that would not decode, or (media.partial: drop) stopped short.
            "audio_error": status.isin(["error", "partial"]),
        }
    )
    splits = [split for split in SPLITS if split in set(manifest["split"])]
    counts = kinds.groupby("split").sum().reindex(splits, fill_value=0).astype(int)
    counts["listed"] = manifest.groupby("split").size()
    counts["usable"] = usable.groupby("split").size().reindex(splits, fill_value=0)
    counts["without_sound"] = counts["usable"] - counts["with_sound"]
    counts["unusable"] = counts["listed"] - counts["usable"]
    return counts.rename_axis("split").reset_index()[COUNT_COLUMNS]

