"""Temporal Segment Networks (Wang et al., ECCV 2016) on BN-Inception: one stream, RGB or
optical flow, as Lee et al. (§3.2) fine-tune it on Moments in Time and then use it as
their per-frame feature extractor (Eq. 1: v_{r,t}, v_{f,t}).

Built as TSN's PyTorch release builds it (yjxiong/tsn-pytorch, models.py), which keeps the
Caffe release's settings (yjxiong/temporal-segment-networks, models/*/tsn_bn_inception_*):
- a snippet is one RGB frame (3 channels) or `new_length` stacked x/y flow fields
  (2 * new_length channels, ordered x1, y1, x2, y2, ...);
- the trunk's pooled 1024-d feature -> dropout -> a new linear classifier (`new_fc`,
  weights N(0, 0.001), bias 0); TSN §3.2 adds the dropout because fine-tuning overfits;
- segment consensus: the average of the snippets' class scores (before the softmax,
  which lives in the loss);
- partial BN (TSN §3.2): every BatchNorm but the first keeps its statistics and affine
  parameters fixed while fine-tuning;
- cross-modality pre-training (TSN §3.2): the flow stream's first convolution starts
  from the RGB one's kernel averaged over the colour channels and copied to every flow
  channel.
The modules keep tsn-pytorch's names (`base_model`, `new_fc`), so a state dict of ours reads
like a tsn-pytorch checkpoint without its DataParallel prefix.
"""

import torch
from torch import nn

from avrepro.features.bninception import FEATURE_DIM, BNInception
from avrepro.features.weights import load_state_dict_strict, to_backbone_state_dict

CHANNELS = {"rgb": 3, "flow": 2}  # channels of one frame / one flow field
FIRST_CONV = "conv1_7x7_s2"


def cross_modality(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """An RGB first-layer kernel (O, 3, k, k) as a kernel for `in_channels` inputs
    (O, in_channels, k, k): its mean over the RGB channels, replicated (TSN §3.2;
    tsn-pytorch models.py, _construct_flow_model)."""
    return weight.mean(dim=1, keepdim=True).expand(-1, in_channels, -1, -1).contiguous()


class TSN(nn.Module):
    """One TSN stream. forward: (N, segments, C, H, W) snippets -> (N, num_classes) scores;
    `features`: (N, C, H, W) snippets -> (N, 1024), the per-frame extractor.

    modality "rgb" takes C = 3 (BGR, mean-subtracted, see train.tsn.normalise), "flow"
    C = 2 * new_length. With random weights (the smoke tier) the flow stream's first
    convolution is still built by cross-modality from a random RGB one, as tsn-pytorch
    does from ImageNet weights.
    """

    def __init__(self, num_classes: int, modality: str = "rgb", new_length: int = 1,
                 dropout: float = 0.8, partial_bn: bool = True) -> None:
        super().__init__()
        if modality not in CHANNELS:
            raise ValueError(f"modality must be one of {tuple(CHANNELS)}, not {modality!r}")
        if modality == "rgb" and new_length != 1:
            raise ValueError("an RGB snippet is one frame: new_length must be 1")
        self.modality = modality
        self.new_length = new_length
        self.partial_bn = partial_bn
        self.base_model = BNInception()
        if self.in_channels != 3:
            rgb = self.base_model.get_submodule(FIRST_CONV)
            conv = nn.Conv2d(self.in_channels, rgb.out_channels, rgb.kernel_size,
                             stride=rgb.stride, padding=rgb.padding)
            with torch.no_grad():
                conv.weight.copy_(cross_modality(rgb.weight, self.in_channels))
                conv.bias.copy_(rgb.bias)
            setattr(self.base_model, FIRST_CONV, conv)
        self.dropout = nn.Dropout(dropout)
        self.new_fc = nn.Linear(FEATURE_DIM, num_classes)
        nn.init.normal_(self.new_fc.weight, 0, 0.001)
        nn.init.zeros_(self.new_fc.bias)
        for bn in self.frozen_bns():
            bn.requires_grad_(False)

    @property
    def in_channels(self) -> int:
        return CHANNELS[self.modality] * self.new_length

    def bns(self) -> list[nn.BatchNorm2d]:
        return [m for m in self.base_model.modules() if isinstance(m, nn.BatchNorm2d)]

    def frozen_bns(self) -> list[nn.BatchNorm2d]:
        """Partial BN's fixed layers: every BatchNorm after the first (none without it)."""
        return self.bns()[1:] if self.partial_bn else []

    def train(self, mode: bool = True) -> "TSN":
        """Partial BN (tsn-pytorch models.py, TSN.train): in training mode the frozen
        BatchNorms still normalise with their stored statistics and never update them."""
        super().train(mode)
        for bn in self.frozen_bns():
            bn.eval()
        return self

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.base_model.forward_features(x)  # (N, C, H, W) -> (N, 1024)

    def snippet_scores(self, x: torch.Tensor) -> torch.Tensor:
        return self.new_fc(self.dropout(self.features(x)))  # (N, C, H, W) -> (N, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, segments = x.shape[:2]
        scores = self.snippet_scores(x.flatten(0, 1))  # (N * segments, classes)
        return scores.view(n, segments, -1).mean(dim=1)  # average consensus: (N, classes)

    def optim_policies(self) -> list[dict]:
        """Parameter groups with TSN's learning-rate and weight-decay multipliers
        (tsn-pytorch models.py, get_optim_policies; the Caffe prototxts' lr_mult and
        decay_mult): biases learn twice as fast without decay; the flow stream's first
        convolution, new to its input, 5x (weights) and 10x (bias); BatchNorms learn
        without decay, and partial BN's frozen ones are left out."""
        first = self.base_model.get_submodule(FIRST_CONV)
        frozen = {id(p) for bn in self.frozen_bns() for p in bn.parameters()}
        bns = {id(p) for bn in self.bns() for p in bn.parameters()}
        flow = self.modality == "flow"
        groups = {
            "first_conv_weight": ([first.weight], 5 if flow else 1, 1),
            "first_conv_bias": ([first.bias], 10 if flow else 2, 0),
            "normal_weight": ([], 1, 1),
            "normal_bias": ([], 2, 0),
            "bn": ([], 1, 0),
        }
        for name, p in self.named_parameters():
            if p is first.weight or p is first.bias or id(p) in frozen:
                continue
            if id(p) in bns:
                groups["bn"][0].append(p)
            else:
                groups["normal_bias" if name.endswith("bias") else "normal_weight"][0].append(p)
        return [{"name": name, "params": params, "lr_mult": lr_mult, "decay_mult": decay_mult}
                for name, (params, lr_mult, decay_mult) in groups.items()]

    def load_pretrained(self, state_dict: dict[str, torch.Tensor], source: str) -> None:
        """Fill the trunk from a published BN-Inception/TSN state dict (wrapper prefixes
        and classifier are dropped, see features.bninception.load_tsn_state_dict); the
        classifier keeps its initialisation. An RGB state dict loads into the flow stream
        by cross-modality; a flow one (first kernel of this stream's width) as it is.
        Raises WeightsMismatchError naming `source`."""
        trunk = to_backbone_state_dict("tsn_bninception", state_dict)
        key = f"{FIRST_CONV}.weight"
        if key in trunk and trunk[key].shape[1] == 3 and self.in_channels != 3:
            trunk[key] = cross_modality(trunk[key], self.in_channels)
        load_state_dict_strict(self.base_model, trunk, source=source)
