"""Per-shard feature extraction: media of one shard in, one feature-store shard out.

Random weights (smoke tier) are drawn from a fixed seed so that every shard of a store is
computed by the same network.
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from avrepro.features.audio_images import SHORT_CODES, render_all
from avrepro.features.backbones import build_backbone, extract, feature_dim
from avrepro.media.audio import load_wav

BACKBONE_SEED = 0
REPRESENTATION_OF = {code: name for name, code in SHORT_CODES.items()}


def audio_image_features(
    audio_dir: Path,
    backbone: str,
    weights: Path | None,
    codes: Sequence[str],
    size: int,
    batch_size: int,
    device: str,
    chunk: int = 64,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Render every clip of an audio shard as each representation and embed the images.

    Returns (clip_id (N,), {code: features (N, dim)}); clips are rendered `chunk` at a
    time so a shard never holds all its images in memory.
    """
    index = pd.read_csv(audio_dir / "index.csv")
    clip_ids = index.loc[index.audio_status == "ok", "clip_id"].to_numpy(dtype=str)
    model = build_backbone(backbone, weights, seed=BACKBONE_SEED)
    names = [REPRESENTATION_OF[c] for c in codes]
    features = {c: [] for c in codes}
    for start in tqdm(range(0, len(clip_ids), chunk), desc="audio images", unit="chunk"):
        images = {c: [] for c in codes}  # code -> list of (size, size, 3) uint8
        for clip_id in clip_ids[start : start + chunk]:
            samples, rate = load_wav(audio_dir / f"{clip_id}.wav")
            rendered = render_all(samples.mean(axis=0), rate, size, names)
            for code, name in zip(codes, names, strict=True):
                images[code].append(rendered[name])
        for code in codes:
            batch = np.stack(images[code])  # (chunk, size, size, 3)
            features[code].append(extract(model, batch, backbone, batch_size, device))
    empty = np.zeros((0, feature_dim(backbone)), np.float32)  # a shard of silent clips
    return clip_ids, {c: np.concatenate(f) if f else empty for c, f in features.items()}


def video_features(
    frames_path: Path, backbone: str, weights: Path | None, batch_size: int, device: str
) -> tuple[np.ndarray, np.ndarray]:
    """Embed every sampled frame of a frames shard: (clip_id (N,), features (N, T, dim))."""
    with np.load(frames_path) as data:
        clip_ids, frames = data["clip_id"], data["frames"]  # frames: (N, T, H, W, 3)
    model = build_backbone(backbone, weights, seed=BACKBONE_SEED)
    n, t = frames.shape[:2]
    flat = extract(model, frames.reshape(n * t, *frames.shape[2:]), backbone, batch_size, device)
    return clip_ids, flat.reshape(n, t, -1)
