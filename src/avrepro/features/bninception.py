"""BN-Inception (Ioffe & Szegedy 2015): the backbone of TSN, MAiVAR's segment diffuser.

Inception-v2 with batch normalisation after every convolution, in the exact layer
configuration of the Caffe model that TSN released and that Cadene's `bninception`,
TSM and mmaction ported to PyTorch. Parameters carry that model's flat key names
(`conv1_7x7_s2.weight`, `inception_3a_1x1_bn.running_mean`, ...) so a published TSN
state dict loads with `strict=True` once its wrapper prefix and classifier are removed
(`load_tsn_state_dict`).

The original pools with `ceil_mode=True` (Caffe rounds output sizes up); we keep it, which
also lets the network run on the smoke tier's 64x64 frames. The original's final 7x7
average pool is an adaptive average pool here: identical at 224x224 (the last map is 7x7),
and it still gives one 1024-d vector per image at smaller sizes.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from avrepro.features.weights import load_state_dict_strict, to_backbone_state_dict

FEATURE_DIM = 1024


@dataclass(frozen=True)
class InceptionBlock:
    """Channel widths of one inception block; 0 means the branch does not exist."""

    name: str  # "3a" -> modules named inception_3a_*
    c_in: int
    c_1x1: int
    c_3x3_reduce: int
    c_3x3: int
    c_double_reduce: int
    c_double: int
    pool: str  # "avg" or "max"
    c_pool_proj: int
    stride: int = 1  # 2 in the grid-reduction blocks 3c and 4e

    @property
    def c_out(self) -> int:
        pooled = self.c_pool_proj if self.c_pool_proj else self.c_in
        return self.c_1x1 + self.c_3x3 + self.c_double + pooled


BLOCKS = (
    # name c_in 1x1 3x3r 3x3 dblr dbl pool proj stride
    InceptionBlock("3a", 192, 64, 64, 64, 64, 96, "avg", 32),
    InceptionBlock("3b", 256, 64, 64, 96, 64, 96, "avg", 64),
    InceptionBlock("3c", 320, 0, 128, 160, 64, 96, "max", 0, stride=2),
    InceptionBlock("4a", 576, 224, 64, 96, 96, 128, "avg", 128),
    InceptionBlock("4b", 576, 192, 96, 128, 96, 128, "avg", 128),
    InceptionBlock("4c", 576, 160, 128, 160, 128, 160, "avg", 128),
    InceptionBlock("4d", 608, 96, 128, 192, 160, 192, "avg", 128),
    InceptionBlock("4e", 608, 0, 128, 192, 192, 256, "max", 0, stride=2),
    InceptionBlock("5a", 1056, 352, 192, 320, 160, 224, "avg", 128),
    # 5b max-pools in its pool branch, as in the paper's Figure 5 and the released model.
    InceptionBlock("5b", 1024, 352, 192, 320, 192, 224, "max", 128),
)


class BNInception(nn.Module):
    """BN-Inception trunk; `forward_features` gives (N, 1024) average-pooled features.

    With `num_classes` a linear classifier `fc` follows (the name TSM's Kinetics model uses);
    without it `forward` returns the pooled features, as TSN does with its consensus removed.
    """

    def __init__(self, num_classes: int | None = None) -> None:
        super().__init__()
        self._add_conv_bn("conv1_7x7_s2", 3, 64, kernel_size=7, stride=2)
        self._add_conv_bn("conv2_3x3_reduce", 64, 64, kernel_size=1)
        self._add_conv_bn("conv2_3x3", 64, 192, kernel_size=3)
        for block in BLOCKS:
            self._add_inception(block)
        self.fc = nn.Linear(FEATURE_DIM, num_classes) if num_classes else None

    def _add_conv_bn(
        self, name: str, c_in: int, c_out: int, kernel_size: int, stride: int = 1
    ) -> None:
        # Caffe-converted convolutions keep their bias even though BN follows.
        conv = nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=kernel_size // 2)
        self.add_module(name, conv)
        self.add_module(f"{name}_bn", nn.BatchNorm2d(c_out, eps=1e-5))

    def _add_inception(self, b: InceptionBlock) -> None:
        p = f"inception_{b.name}"
        if b.c_1x1:
            self._add_conv_bn(f"{p}_1x1", b.c_in, b.c_1x1, kernel_size=1)
        self._add_conv_bn(f"{p}_3x3_reduce", b.c_in, b.c_3x3_reduce, kernel_size=1)
        self._add_conv_bn(f"{p}_3x3", b.c_3x3_reduce, b.c_3x3, kernel_size=3, stride=b.stride)
        self._add_conv_bn(f"{p}_double_3x3_reduce", b.c_in, b.c_double_reduce, kernel_size=1)
        self._add_conv_bn(f"{p}_double_3x3_1", b.c_double_reduce, b.c_double, kernel_size=3)
        self._add_conv_bn(
            f"{p}_double_3x3_2", b.c_double, b.c_double, kernel_size=3, stride=b.stride
        )
        if b.c_pool_proj:
            self._add_conv_bn(f"{p}_pool_proj", b.c_in, b.c_pool_proj, kernel_size=1)

    def _conv_bn_relu(self, name: str, x: torch.Tensor) -> torch.Tensor:
        conv = self.get_submodule(name)
        bn = self.get_submodule(f"{name}_bn")
        return F.relu(bn(conv(x)))

    def _inception(self, b: InceptionBlock, x: torch.Tensor) -> torch.Tensor:
        p = f"inception_{b.name}"
        branches = []
        if b.c_1x1:
            branches.append(self._conv_bn_relu(f"{p}_1x1", x))
        y = self._conv_bn_relu(f"{p}_3x3_reduce", x)
        branches.append(self._conv_bn_relu(f"{p}_3x3", y))
        y = self._conv_bn_relu(f"{p}_double_3x3_reduce", x)
        y = self._conv_bn_relu(f"{p}_double_3x3_1", y)
        branches.append(self._conv_bn_relu(f"{p}_double_3x3_2", y))
        if b.stride == 2:  # grid reduction: the pooled input itself is the fourth branch
            branches.append(F.max_pool2d(x, 3, stride=2, ceil_mode=True))
        else:
            if b.pool == "avg":
                pooled = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=True)
            else:
                pooled = F.max_pool2d(x, 3, stride=1, padding=1)
            branches.append(self._conv_bn_relu(f"{p}_pool_proj", pooled))
        return torch.cat(branches, dim=1)  # (N, b.c_out, H', W')

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> (N, 1024). Shapes below are for H = W = 224."""
        x = self._conv_bn_relu("conv1_7x7_s2", x)  # (N, 64, 112, 112)
        x = F.max_pool2d(x, 3, stride=2, ceil_mode=True)  # (N, 64, 56, 56)
        x = self._conv_bn_relu("conv2_3x3_reduce", x)  # (N, 64, 56, 56)
        x = self._conv_bn_relu("conv2_3x3", x)  # (N, 192, 56, 56)
        x = F.max_pool2d(x, 3, stride=2, ceil_mode=True)  # (N, 192, 28, 28)
        for block in BLOCKS:
            x = self._inception(block, x)  # 3a,3b: 28x28; 3c-4d: 14x14; 4e-5b: 7x7
        # (N, 1024, 7, 7) -> (N, 1024)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.forward_features(x)  # (N, 1024)
        return self.fc(features) if self.fc is not None else features


def load_tsn_state_dict(model: BNInception, state_dict: dict[str, torch.Tensor]) -> None:
    """Load a published BN-Inception/TSN state dict into `model`'s trunk.

    Strips the wrapper prefixes (`backbone.`, `module.base_model.`, ...) and drops the
    source's classifier (`fc`, `new_fc`, `last_linear`, `cls_head`); every remaining key
    must match. `model.fc`, if any, keeps its own initialisation. Raises
    `WeightsMismatchError` listing missing and unexpected keys.
    """
    trunk = to_backbone_state_dict("tsn_bninception", state_dict)
    own_head = {k for k in model.state_dict() if k.startswith("fc.")}
    load_state_dict_strict(model, trunk, source="TSN state dict", allow_missing=own_head)
