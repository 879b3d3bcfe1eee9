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
from avrepro.media.frame_store import FrameStore

BACKBONE_SEED = 0
FLIPS = ("none", "horizontal", "vertical", "both")  # the views of an audio image
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
    flips: bool = False,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Render every clip of an audio shard as each representation and embed the images.

    Returns (clip_id (N,), {code: features (N, V, dim)}): V = 1, the image as rendered, or
    with `flips` the FLIPS views of it (view 0 as rendered). MAiVAR (§4.2) trains on audio
    images "with random horizontal and vertical flips", each drawn with probability 1/2:
    the four views are the whole of that distribution, so a run that draws one of them per
    clip and epoch (train.maivar) trains exactly as with the flips, on a backbone run once.
    Clips are rendered `chunk` at a time so a shard never holds all its images in memory.
    """
    index = pd.read_csv(audio_dir / "index.csv")
    clip_ids = index.loc[index.audio_status == "ok", "clip_id"].to_numpy(dtype=str)
    model = build_backbone(backbone, weights, seed=BACKBONE_SEED)
    names = [REPRESENTATION_OF[c] for c in codes]
    views = FLIPS if flips else FLIPS[:1]
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
            embedded = [extract(model, flip(batch, view), backbone, batch_size, device)
                        for view in views]  # V x (chunk, dim)
            features[code].append(np.stack(embedded, axis=1))  # (chunk, V, dim)
    empty = np.zeros((0, len(views), feature_dim(backbone)), np.float32)  # only silent clips
    return clip_ids, {c: np.concatenate(f) if f else empty for c, f in features.items()}


def flip(images: np.ndarray, view: str) -> np.ndarray:
    """(N, H, W, 3) images mirrored as `view` says: left-right (horizontal, torchvision's
    RandomHorizontalFlip), top-bottom (vertical) or both."""
    if view in ("horizontal", "both"):
        images = images[:, :, ::-1]
    if view in ("vertical", "both"):
        images = images[:, ::-1]
    return np.ascontiguousarray(images)


def video_features(
    frames_path: Path, backbone: str, weights: Path | None, batch_size: int, device: str,
    chunk: int = 16,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Embed every sampled frame of a frames shard: (clip_id (N,), features (N, T, dim),
    views). For a tsn shard with random training views (clips (1 + V, T, H, W, 3),
    media.frames.pick_tsn), features are view 0's, the segment centres of the test
    protocol, and views (N, 1 + V, T, dim) every view's; otherwise views is None.

    Frames are decoded `chunk` clips at a time, so the shard's frames are never all in
    memory (UCF51's tsn25 clips: 25 frames of 224 x 224, 3.8 MB a clip decoded)."""
    store = FrameStore([frames_path])
    model = build_backbone(backbone, weights, seed=BACKBONE_SEED)
    layout = store.clip_shape[:-3]  # (T,) or (1 + V, T)
    features = np.zeros((len(store), *layout, feature_dim(backbone)), np.float32)
    for start in tqdm(range(0, len(store), chunk), desc="video clips", unit="chunk"):
        clips = range(start, min(start + chunk, len(store)))
        frames = np.concatenate([store.read(i) for i in clips]).reshape(
            -1, *store.frame_shape)  # (chunk * [1 + V] * T, H, W, 3)
        features[clips] = extract(model, frames, backbone, batch_size, device).reshape(
            len(clips), *layout, -1)
    if len(layout) == 1:
        return store.clip_ids, features, None
    return store.clip_ids, features[:, 0], features
