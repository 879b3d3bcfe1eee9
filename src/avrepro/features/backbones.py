"""Frozen image feature extractors, by name: MAiVAR's chroma and segment diffusers.

| name              | model                              | feature | input |
|-------------------|------------------------------------|---------|-------|
| `irv2`            | timm inception_resnet_v2           | 1536    | 299   |
| `resnet18`        | timm resnet18                      | 512     | 224   |
| `resnet101`       | timm resnet101                     | 2048    | 224   |
| `efficientnet_b0` | timm efficientnet_b0               | 1280    | 224   |
| `tsn_bninception` | avrepro BNInception (TSN backbone) | 1024    | 224   |

Each extractor maps an image to its classifier's input: the global-average-pooled last
feature map (the paper's "AvgPool2d" features, §3.2-3.5). Weights come from a local file
only (see `weights.py` for where those files come from) or, in the smoke tier, from a
seeded random initialisation.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from avrepro.features.bninception import BNInception
from avrepro.features.registry import BACKBONES, Backbone
from avrepro.features.weights import frozen_network


@dataclass(frozen=True)
class Normalization:
    """How uint8 RGB pixels become model input: x = (pixel / 255 * value_range - mean) / std."""

    mean: tuple[float, float, float]  # in the model's channel order
    std: tuple[float, float, float]
    value_range: float  # 1.0 for [0, 1] inputs, 255.0 for Caffe-style [0, 255]
    bgr: bool  # the model expects channels in BGR order


# TSN's BN-Inception was trained in Caffe: BGR, 0-255, mean subtraction only. mmaction's
# TSN configs feed it exactly this (img_norm_cfg mean=[104, 117, 128], std=[1, 1, 1],
# to_rgb=False), and the TSM Kinetics conversion documents the same input space.
TSN_CAFFE_NORMALIZATION = Normalization(
    mean=(104.0, 117.0, 128.0), std=(1.0, 1.0, 1.0), value_range=255.0, bgr=True
)


def backbone(name: str) -> Backbone:
    try:
        return BACKBONES[name]
    except KeyError:
        known = ", ".join(sorted(BACKBONES))
        raise ValueError(f"unknown backbone {name!r}; known: {known}") from None


def feature_dim(name: str) -> int:
    return backbone(name).feature_dim


def input_size(name: str) -> int:
    return backbone(name).input_size


def normalization(name: str) -> Normalization:
    """The preprocessing the registered weights of `name` were trained with."""
    spec = backbone(name)
    if spec.timm_weights is None:
        return TSN_CAFFE_NORMALIZATION
    from timm.models import get_pretrained_cfg  # timm's import costs seconds; TSN needs none

    cfg = get_pretrained_cfg(spec.timm_weights)
    return Normalization(mean=tuple(cfg.mean), std=tuple(cfg.std), value_range=1.0, bgr=False)


def build_backbone(name: str, weights: Path | None, seed: int) -> nn.Module:
    """A frozen feature extractor in eval mode: (N, 3, H, W) float -> (N, feature_dim(name)).

    weights: a local .pth/.pt/.safetensors file (never the network), or None for random
    weights drawn from `seed` (smoke tier): the same seed gives the same weights.
    Raises WeightsError naming the file if it is unreadable or its keys do not fit.
    """
    spec = backbone(name)

    def make() -> nn.Module:
        if spec.timm_name is None:
            return BNInception()
        import timm

        # num_classes=0 leaves timm's global average pool as the last layer.
        return timm.create_model(spec.timm_name, pretrained=False, num_classes=0)

    return frozen_network(name, make, weights, seed)


def extract(
    model: nn.Module,
    images: np.ndarray,
    name: str,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Features of uint8 RGB images (N, H, W, 3) -> float32 (N, feature_dim(name)).

    Images are used at the size given (callers resize to `input_size(name)`, or to the
    smoke tier's reduced size) and normalised with `normalization(name)`.
    """
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(
            f"expected uint8 images of shape (N, H, W, 3), got {images.dtype} {images.shape}"
        )
    norm = normalization(name)
    mean = torch.tensor(norm.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(norm.std, device=device).view(1, 3, 1, 1)
    model = model.to(device)
    features = np.empty((len(images), feature_dim(name)), dtype=np.float32)
    with torch.inference_mode():
        starts = range(0, len(images), batch_size)
        for start in tqdm(starts, desc=f"{name} features", unit="batch"):
            batch = torch.from_numpy(images[start : start + batch_size]).to(device)
            x = batch.permute(0, 3, 1, 2).float()  # (B, 3, H, W), RGB, 0-255
            if norm.bgr:
                x = x.flip(1)
            x = (x * (norm.value_range / 255.0) - mean) / std
            features[start : start + len(batch)] = model(x).float().cpu().numpy()  # (B, dim)
    return features
