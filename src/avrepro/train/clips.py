"""Which clips a run uses: those every modality can give (shared by every paper's runs),
and the validation clips that select its best epoch."""

from pathlib import Path

import numpy as np
import pandas as pd

from avrepro.media import audio_index
from avrepro.media.audio_index import read_audio_index


def decodable(audio_indexes: list[Path], frames_indexes: list[Path]) -> set[str]:
    """Clips whose audio and frames both decoded (the media stage's shard indexes)."""
    audio = read_audio_index(audio_indexes, columns=("clip_id", "audio_status"))
    frames = pd.concat([pd.read_csv(p) for p in frames_indexes])
    return set(audio.clip_id[audio.audio_status == "ok"]) & set(
        frames.clip_id[frames.frames_status == "ok"]
    )


def assemble(
    manifest: pd.DataFrame,
    stores: dict[str, tuple[np.ndarray, np.ndarray]],
    decoded: set[str] | None = None,
):
    """The clips a run uses, and their features.

    The datasets are audio-visual sets: every run, whatever its modality,
    uses the clips that have usable audio AND video (manifest status ok, an audio track,
    both decoded: `decoded`), so that audio-only, video-only and fusion are compared on
    the same clips. Returns (manifest rows in a fixed order, {modality: aligned features}).
    """
    usable = manifest[(manifest.status == "ok") & manifest.has_audio]
    ids = set(usable.clip_id) if decoded is None else set(usable.clip_id) & decoded
    for clip_ids, _ in stores.values():
        ids &= set(clip_ids)
    rows = usable[usable.clip_id.isin(ids)].sort_values("clip_id").reset_index(drop=True)
    aligned = {}
    for modality, (clip_ids, feats) in stores.items():
        position = pd.Series(np.arange(len(clip_ids)), index=clip_ids)
        aligned[modality] = feats[position.loc[rows.clip_id].to_numpy()]
    return rows, aligned


def holdout(rows: pd.DataFrame, fraction: float) -> np.ndarray:
    """Boolean mask of the validation clips, drawn from the training split.

    For datasets without a validation split (UCF101, Kinetics, whose papers report on
    the test list or validation set and are silent on model selection), a stratified
    `fraction` of the training clips with a fixed seed: round(fraction * n) of each
    class's n training clips, at least one where a class has two or more. The same clips
    for every run and seed, so runs compare; the epoch with the best accuracy on them is
    kept. (numpy rather than sklearn's train_test_split: every training job imports this,
    and sklearn's import costs about a second.)
    """
    rng = np.random.default_rng(0)
    train_idx = np.flatnonzero(rows.split == "train")
    labels = rows.label_index.to_numpy()[train_idx]
    mask = np.zeros(len(rows), dtype=bool)
    for label in np.unique(labels):
        members = train_idx[labels == label]
        n_val = max(round(fraction * len(members)), 1 if len(members) > 1 else 0)
        mask[rng.permutation(members)[:n_val]] = True
    return mask


def with_frames(manifest: pd.DataFrame, frames_indexes: list[Path]) -> pd.DataFrame:
    """Manifest rows (status ok) whose frames decoded, sorted by clip_id: the clips of a
    run that needs the picture and not the sound (Lee et al. use every video, with sound
    or without)."""
    frames = pd.concat([pd.read_csv(p) for p in frames_indexes])
    decoded = set(frames.clip_id[frames.frames_status == "ok"])
    rows = manifest[(manifest.status == "ok") & manifest.clip_id.isin(decoded)]
    return rows.sort_values("clip_id").reset_index(drop=True)


def sounding(audio_indexes: list[Path]) -> set[str]:
    """Clips that have sound (Lee et al. §3.2): an audio track that decoded to samples
    (audio_status ok) that are not all zero (the index's `silent` column)."""
    audio = read_audio_index(audio_indexes)
    return set(audio.clip_id[audio_index.sounding(audio)])


def class_names(manifest: pd.DataFrame) -> list[str]:
    """Labels in label_index order (0 ... n - 1)."""
    pairs = manifest[["label_index", "label"]].drop_duplicates().sort_values("label_index")
    if list(pairs.label_index) != list(range(len(pairs))):
        raise ValueError(f"label indexes are not 0 ... n-1 with one label each: {pairs.values}")
    return pairs.label.tolist()
