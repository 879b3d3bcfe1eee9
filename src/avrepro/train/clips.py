"""Which clips a run uses: those every modality can give (shared by every paper's runs),
and the validation clips that select its best epoch."""

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split


def decodable(audio_indexes: list[Path], frames_indexes: list[Path]) -> set[str]:
    """Clips whose audio and frames both decoded (the media stage's shard indexes)."""
    audio = pd.concat([pd.read_csv(p) for p in audio_indexes])
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
    `fraction` of the training clips with a fixed seed: the same clips for every run and
    seed, so runs compare; the epoch with the best accuracy on them is kept.
    """
    train_idx = np.flatnonzero(rows.split == "train")
    _, val_idx = train_test_split(
        train_idx, test_size=fraction, random_state=0, stratify=rows.label_index.iloc[train_idx]
    )
    mask = np.zeros(len(rows), dtype=bool)
    mask[val_idx] = True
    return mask
