"""Lee et al.'s Table 1 counts: clips with and without sound per split, and why not."""

from pathlib import Path

import pandas as pd
import pytest

from avrepro.data.sound_counts import COUNT_COLUMNS, sound_counts
from avrepro.media.audio_index import AUDIO_INDEX_COLUMNS

# clip_id, split, manifest status, has_audio; audio_status, silent (the media stage's index)
CLIPS = [
    ("v_sound", "test", "ok", True, "ok", False),
    ("v_silent", "test", "ok", True, "ok", True),
    ("v_empty", "test", "empty", None, "skipped", False),
    ("t_sound1", "train", "ok", True, "ok", False),
    ("t_sound2", "train", "ok", True, "ok", False),
    ("t_no_track", "train", "ok", False, "no_audio", False),  # the probe saw no track
    ("t_undemuxed", "train", "ok", True, "no_audio", False),  # ffmpeg found none to map
    ("t_silent", "train", "ok", True, "ok", True),
    ("t_broken", "train", "ok", True, "error", False),
    ("t_missing", "train", "missing", None, "skipped", False),
]


def manifest() -> pd.DataFrame:
    rows = pd.DataFrame(CLIPS, columns=["clip_id", "split", "status", "has_audio", "a", "s"])
    return rows.drop(columns=["a", "s"])


def write_indexes(folder: Path, clips=CLIPS) -> list[Path]:
    """The audio index in two shards, as the media stage writes them."""
    index = pd.DataFrame(
        {
            "clip_id": [clip[0] for clip in clips],
            "audio_status": [clip[4] for clip in clips],
            "n_samples": [48000 if clip[4] == "ok" else 0 for clip in clips],
            "silent": [clip[5] for clip in clips],
            "audio_seconds": [3.0 if clip[4] == "ok" else 0.0 for clip in clips],
            "media_seconds": 3.0,
            "partial": False,
            "reason": "",
        }
    )[AUDIO_INDEX_COLUMNS]
    paths = [folder / "shard-000.csv", folder / "shard-001.csv"]
    index.iloc[::2].to_csv(paths[0], index=False)
    index.iloc[1::2].to_csv(paths[1], index=False)
    return paths


def test_counts_split_the_soundless_clips_by_cause(tmp_path: Path) -> None:
    counts = sound_counts(manifest(), write_indexes(tmp_path))

    assert list(counts.columns) == COUNT_COLUMNS
    assert counts.set_index("split").to_dict("index") == {
        "train": {
            "listed": 7,
            "usable": 6,
            "with_sound": 2,
            "without_sound": 4,
            "no_track": 2,
            "silent_track": 1,
            "audio_error": 1,
            "unusable": 1,
        },
        "test": {
            "listed": 3,
            "usable": 2,
            "with_sound": 1,
            "without_sound": 1,
            "no_track": 0,
            "silent_track": 1,
            "audio_error": 0,
            "unusable": 1,
        },
    }
    assert counts["split"].tolist() == ["train", "test"]  # the paper's column order
    causes = counts[["with_sound", "no_track", "silent_track", "audio_error"]].sum(axis=1)
    assert (causes == counts["usable"]).all()


def test_an_index_from_before_silence_detection_is_refused(tmp_path: Path) -> None:
    paths = write_indexes(tmp_path)
    pd.read_csv(paths[1]).drop(columns="silent").to_csv(paths[1], index=False)
    with pytest.raises(ValueError, match=r"shard-001\.csv: audio index without \[.silent.\]"):
        sound_counts(manifest(), paths)


def test_a_usable_clip_missing_from_the_indexes_is_named(tmp_path: Path) -> None:
    paths = write_indexes(tmp_path, [clip for clip in CLIPS if clip[0] != "t_broken"])
    with pytest.raises(ValueError, match=r"1 usable clips are in no audio index.*t_broken"):
        sound_counts(manifest(), paths)
