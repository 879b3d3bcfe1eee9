"""MAFnet's visual features: DenseNet-201 conv maps of one-second clips (MAFnet §4.2).

"For each clip, we extract the output of the DenseNet last convolutional layer for 16
RGB video frames with a global average pooling over the 16 frames to generate one
7 x 7 x 1920 dimensional feature map." At a 224 x 224 input the network's stride of 32
gives 7 x 7 maps of 1920 channels; we keep them channels first: (1920, 7, 7) per window.

The network is torchvision's densenet201 without its classifier, with ImageNet weights
from a local file (registered in weights.py) or, in the smoke tier, seeded random ones.
"""

from pathlib import Path

import numpy as np
import torch
import torchvision
from torch import nn
from tqdm import tqdm

from avrepro.features.weights import frozen_network
from avrepro.media.frame_store import FrameStore

NAME = "densenet201"
INPUT_SIZE = 224
FEATURE_SHAPE = (1920, 7, 7)  # (channels, height, width) at INPUT_SIZE
# ImageNet statistics of torchvision's weights; the authors' Keras DenseNet201
# preprocess_input ("torch" mode) normalises with the same ones.
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
SEED = 0  # random weights of the smoke tier: one network for every shard


class DenseNetMaps(nn.Module):
    """(N, 3, H, W) normalised RGB -> (N, 1920, H / 32, W / 32) last feature maps.

    torchvision's `features` ends with the final batch norm (norm5); the ReLU that
    follows it lives in DenseNet.forward. Both are included here: the authors extracted
    with Keras' DenseNet201(include_top=False), whose output is that final BN + ReLU
    activation, and it is what the ImageNet classifier was trained to pool. Without them
    the maps would be the raw concatenation of the last dense block's outputs.
    """

    def __init__(self):
        super().__init__()
        self.features = torchvision.models.densenet201(weights=None).features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.features(x))


def map_size(side: int) -> int:
    """Side of the feature maps for an input side: the stem's stride-2 convolution and
    max pool round up, the three transitions' 2x2 average pools round down (224 -> 7)."""
    return ((side + 1) // 2 + 1) // 2 // 8


def build_densenet(weights: Path | None, seed: int = SEED) -> DenseNetMaps:
    """A frozen DenseNetMaps in eval mode: weights from a local file (never the network),
    or random ones drawn from `seed`. Raises WeightsError naming a file that does not fit."""
    return frozen_network(NAME, DenseNetMaps, weights, seed)


def clip_maps(
    model: nn.Module, frames: np.ndarray, batch_size: int = 32, device: str | torch.device = "cpu"
) -> np.ndarray:
    """Feature maps of one-second windows, averaged over each window's frames.

    frames: uint8 RGB (n_windows, frames_per_window, H, W, 3), used at the size given
    (224 in the full tier). Returns float32 (n_windows, 1920, H / 32, W / 32).
    """
    if frames.dtype != np.uint8 or frames.ndim != 5 or frames.shape[-1] != 3:
        raise ValueError(
            f"expected uint8 frames (windows, frames, H, W, 3), got {frames.dtype} {frames.shape}"
        )
    n_windows, per_window = frames.shape[:2]
    flat = frames.reshape(-1, *frames.shape[2:])  # (n_windows * per_window, H, W, 3)
    mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=device).view(1, 3, 1, 1)
    model = model.to(device)
    maps = []
    with torch.inference_mode():
        for start in range(0, len(flat), batch_size):
            batch = torch.from_numpy(flat[start : start + batch_size]).to(device)
            x = (batch.permute(0, 3, 1, 2).float() / 255.0 - mean) / std  # (B, 3, H, W)
            maps.append(model(x).float().cpu())  # (B, 1920, h, w)
    maps = torch.cat(maps).view(n_windows, per_window, *maps[0].shape[1:])
    return maps.mean(dim=1).numpy()  # average over the window's frames


def shard_features(
    frames_path: Path, weights: Path | None, batch_size: int, device: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maps of every clip of a frames shard (the media stage's "clips" sampler).

    Returns (clip_id (N,), features float16 (N, T, 1920, h, w), n_valid (N,)); windows
    past a clip's n_valid are zeros, never run through the network (MAFnet zero-pads).
    float16 as stored (AVE's maps take 7.8 GB so): each clip's maps are cast as they are
    written, so the shard never exists in float32.
    """
    store = FrameStore([frames_path])  # clips (T, frames_per_window, H, W, 3)
    model = build_densenet(weights)
    n_valid = store.n_valid
    t, _, height, width = store.clip_shape[:4]
    features = np.zeros((len(store), t, FEATURE_SHAPE[0], map_size(height), map_size(width)),
                        np.float16)
    for i in tqdm(range(len(store)), desc=f"{NAME} maps", unit="clip"):
        real = store.read(i, range(n_valid[i]))  # one clip decoded at a time
        features[i, : n_valid[i]] = clip_maps(model, real, batch_size, device)
    return store.clip_ids, features, n_valid
