"""Attention Clusters: Long et al. (CVPR 2018, "Attention clusters: purely attention based
local feature integration for video classification"), MAFnet's Table 1 baseline
"Attention Cluster [30]" on MAFnet's features.

Each modality's window features (B, T, D) go through one attention cluster: N attention
units, each a softmax over the T windows of a linear score, whose weighted sum is
shifted (v -> alpha v + beta, one learnable scalar pair per unit) and l2-normalised, then
divided by sqrt(N) so that the cluster's output has unit norm (§3.3, the shifting
operation). The clusters of all modalities are concatenated and classified by one linear
layer after dropout 0.5.

Where the paper leaves a detail to the code, we follow Long et al.'s released PyTorch
code (longxiang92/Flash-MNIST, main_feature_satt.py): one linear layer for the scores,
alpha and beta drawn from a Glorot normal (std N^-1/4), dropout 0.5, Adam at 1e-3.
Inputs are MAFnet's window features, spatially averaged (DenseNet-201 1920, VGGish 512).
"""

import math

import torch
from torch import nn

# The cluster size is a per-dataset hyper-parameter in Long et al. (their released code
# defaults to 10 units); MAFnet does not say which its baseline used. Config sets it.
DEFAULT_UNITS = 32


class ShiftingAttentionCluster(nn.Module):
    """(B, T, D) -> (B, units * D): `units` attention-weighted sums, shifted and normalised."""

    def __init__(self, dim: int, units: int = DEFAULT_UNITS):
        super().__init__()
        self.units = units
        self.scores = nn.Linear(dim, units)
        self.alpha = nn.Parameter(torch.randn(units) * units**-0.25)
        self.beta = nn.Parameter(torch.randn(units) * units**-0.25)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.scores(x), dim=1)  # (B, T, units), over the windows
        v = torch.einsum("btu,btd->bud", weights, x)  # (B, units, D)
        v = self.alpha[:, None] * v + self.beta[:, None]  # the shifting operation
        v = nn.functional.normalize(v, dim=-1) / math.sqrt(self.units)
        return v.flatten(1)  # (B, units * D)


class AttentionCluster(nn.Module):
    """audio (B, T, Da[, H, W]), visual (B, T, Dv[, H, W]) -> (B, n_classes) logits."""

    needs_maps = {"audio": False, "visual": False}

    def __init__(
        self,
        n_classes: int,
        visual_dim: int = 1920,
        audio_dim: int = 512,
        units: int = DEFAULT_UNITS,
        dropout: float = 0.5,
    ):
        super().__init__()
        self.visual = ShiftingAttentionCluster(visual_dim, units)
        self.audio = ShiftingAttentionCluster(audio_dim, units)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(units * (visual_dim + audio_dim), n_classes)

    def forward(self, audio: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        audio, visual = (x.float() for x in (audio, visual))  # stores may hold float16
        audio, visual = (x.mean((-2, -1)) if x.dim() == 5 else x for x in (audio, visual))
        x = torch.cat([self.visual(visual), self.audio(audio)], dim=1)
        return self.head(self.dropout(x))  # (B, n_classes)
