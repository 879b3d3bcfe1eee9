"""The two-phase audio-visual scene classifier (Pham et al., §II, Figs. 1-3, Eqs. 1-3).

Phase I trains five branches on their own, each ending in the same dense block
FC(1024) -> FC(10) (Figs. 2 and 3):
  Aud-MEL, Aud-GAM, Aud-CQT : residual-inception network on (6, 128, T) spectrograms
  Vis-INC, Vis-CONV         : InceptionV3 / ConvNeXt-Tiny up to global pooling, on
                              224 x 224 RGB frames (two per second)
Phase II freezes them, takes each branch's FC(1024) or FC(10) output as its embedding
and trains only a fusion layer (f1 ... f6) and a dense layer FC(10) + softmax (Fig. 1).
"""

from pathlib import Path

import torch
from torch import nn

from avrepro.features.weights import load_state_dict_strict, read_state_dict, to_backbone_state_dict
from avrepro.variants.twophase import FUSIONS

N_CLASSES = 10

# ---------------------------------------------------------------------------------------
# Dense block (Figs. 2-3, lower part): the head every branch shares.


class DenseBlock(nn.Module):
    """Pooled features -> FC(1024) + ReLU -> FC(n_classes) (softmax lives in the loss).

    Its two outputs are the branch's two embeddings (§II-A: "the feature maps extracted
    at the first fully connected FC(1024) or at second fully connected FC(10)"): the
    FC(1024) layer's activation (a Keras Dense(1024, activation="relu") outputs it after
    the ReLU) and the FC(10) layer's output before the softmax, which §II-A removes as
    a header layer. Dropout before each FC layer is the authors' usual dense block
    (their ASC networks); the paper prints no rate, we take 0.3.
    """

    def __init__(self, in_dim: int, n_classes: int = N_CLASSES, hidden: int = 1024,
                 dropout: float = 0.3):
        super().__init__()
        self.drop1 = nn.Dropout(dropout)
        self.fc1 = nn.Linear(in_dim, hidden)
        self.drop2 = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, n_classes)

    def embeddings(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.relu(self.fc1(self.drop1(x)))  # (B, 1024)
        return h, self.fc2(self.drop2(h))  # (B, 1024), (B, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embeddings(x)[1]


class Branch(nn.Module):
    """A phase-I model: `trunk` (input -> pooled features) followed by the dense block."""

    def __init__(self, trunk: nn.Module, feature_dim: int, n_classes: int = N_CLASSES):
        super().__init__()
        self.trunk = trunk
        self.head = DenseBlock(feature_dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))  # (B, n_classes) logits

    @torch.no_grad()
    def embeddings(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The trained branch's phase-II embeddings: (FC(1024) (B, 1024), FC(10) (B, 10)).

        Call in eval mode (as phase II does): dropout off, batch norm on running stats.
        """
        return self.head.embeddings(self.trunk(x))


# ---------------------------------------------------------------------------------------
# Audio branch: the residual-inception network (Fig. 2; "the CNN-based backbone of the
# novel residual-inception deep neural network architecture ... reused from our previous
# works [15]"). Our copy of the paper has neither Fig. 2's drawing nor [15]'s text, so
# the block follows Inception-ResNet (Szegedy et al., 2017), the design [15] names:
# parallel inception branches whose concatenation, through a linear 1x1 projection, is
# added to a shortcut. The one size the paper prints: three residual-inception models
# hold "36 M trainable parameters" (§III-C), about 12 M each. Four blocks with the usual
# doubling widths 128, 256, 512, 1024 come closest, 9.9 M each (96 ... 768: 5.8 M; a
# fifth block: over 40 M); tests pin the count.


class ConvBN(nn.Sequential):
    """Conv (no bias: the batch norm has one) -> BatchNorm -> optional ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, relu: bool = True):
        layers = [nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False),
                  nn.BatchNorm2d(cout)]
        super().__init__(*layers, *([nn.ReLU(inplace=True)] if relu else []))


class InceptionLayer(nn.Module):
    """Inception-v3 module A with `cout` channels, a quarter per branch:
    1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 -> 3x3 (a 5x5 field, factorised) | 3x3 max-pool -> 1x1."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        b = cout // 4
        self.branch1 = ConvBN(cin, b, 1)
        self.branch3 = nn.Sequential(ConvBN(cin, b, 1), ConvBN(b, b, 3))
        self.branch5 = nn.Sequential(ConvBN(cin, b, 1), ConvBN(b, b, 3), ConvBN(b, b, 3))
        self.branch_pool = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), ConvBN(cin, b, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch1, self.branch3, self.branch5, self.branch_pool)
        return torch.cat([branch(x) for branch in branches], dim=1)  # (B, cout, H, W)


class ResidualInceptionBlock(nn.Module):
    """Two inception layers, a linear 1x1 projection, plus a shortcut; then ReLU,
    2x2 average pooling and dropout (halving frequency and time)."""

    def __init__(self, cin: int, cout: int, dropout: float):
        super().__init__()
        self.residual = nn.Sequential(
            InceptionLayer(cin, cout), InceptionLayer(cout, cout), ConvBN(cout, cout, 1, relu=False)
        )
        self.shortcut = nn.Identity() if cin == cout else ConvBN(cin, cout, 1, relu=False)
        # ceil_mode: a side of 1 (small smoke-tier inputs) stays 1 instead of vanishing.
        self.pool = nn.AvgPool2d(2, ceil_mode=True)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.residual(x) + self.shortcut(x))  # (B, cout, H, W)
        return self.drop(self.pool(x))  # (B, cout, ceil(H/2), ceil(W/2))


AUDIO_WIDTHS = (128, 256, 512, 1024)


class ResidualInception(nn.Module):
    """(B, 6, F, T) spectrograms -> (B, widths[-1]) globally average-pooled features.

    A batch norm on the input standardises each of the six channels (static, delta,
    delta-delta per stereo channel), as the authors' ASC networks begin; the spectrogram
    store holds raw log magnitudes. Dropout grows with depth (0.1 ... 0.25), the authors'
    habit in their inception-based ASC networks; the paper prints no rates.
    """

    def __init__(self, in_channels: int = 6, widths: tuple[int, ...] = AUDIO_WIDTHS):
        super().__init__()
        self.input_norm = nn.BatchNorm2d(in_channels)
        blocks, cin = [], in_channels
        for i, width in enumerate(widths):
            blocks.append(ResidualInceptionBlock(cin, width, dropout=0.1 + 0.05 * i))
            cin = width
        self.blocks = nn.Sequential(*blocks)
        self.out_dim = cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.input_norm(x.float()))  # store holds float16: (B, C, F', T')
        return x.mean(dim=(2, 3))  # (B, widths[-1])


def audio_branch(widths: tuple[int, ...] = AUDIO_WIDTHS, n_classes: int = N_CLASSES) -> Branch:
    """Aud-MEL / Aud-GAM / Aud-CQT (the same network on a different spectrogram)."""
    trunk = ResidualInception(widths=tuple(widths))
    return Branch(trunk, trunk.out_dim, n_classes)


# ---------------------------------------------------------------------------------------
# Visual branches (Fig. 3): Keras InceptionV3 and ConvNeXtTiny "from the first layer to
# the global pooling layer", ImageNet weights, fine-tuned. We use torchvision's networks
# (randomly initialised; the ImageNet files are registered in features/registry.py under
# the same names and loaded by `load_visual_weights`).


class Normalize(nn.Module):
    """(B, H, W, 3) RGB pixels in 0..255 (uint8 frames or mixup's float blends) ->
    (B, 3, H, W) as the weights expect. Affine, so normalising a mixup of two frames
    equals mixing the two normalised frames."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        # Not persistent: constants of the preprocessing, not weights to save or load.
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 3, 1, 2).float() / 255.0  # (B, 3, H, W) in [0, 1]
        return (x - self.mean) / self.std


IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
VISUAL_BACKBONES = {
    # Google's InceptionV3 weights take pixels in [-1, 1], as Keras' preprocess_input
    # gives (torchvision reaches the same through transform_input=True).
    "inception_v3": {"feature_dim": 2048, "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)},
    # ConvNeXt's weights take ImageNet-standardised pixels (Keras builds that into the model).
    "convnext_tiny": {"feature_dim": 768, "mean": IMAGENET_MEAN, "std": IMAGENET_STD},
}


def _visual_trunk(name: str) -> nn.Module:
    """The torchvision network up to its global pooling: (B, 3, H, W) -> (B, feature_dim)."""
    import torchvision  # here: the audio branches and fusions need not pay for its import

    if name == "inception_v3":
        # No auxiliary classifier: it is a training aid of ImageNet training, not part of
        # the network up to global pooling (Keras' InceptionV3 has none). init_weights:
        # torchvision's truncated-normal initialisation, made explicit (it warns otherwise).
        model = torchvision.models.inception_v3(
            weights=None, aux_logits=False, transform_input=False, init_weights=True
        )
        model.dropout = nn.Identity()  # ImageNet head's dropout; our dense block has its own
        model.fc = nn.Identity()  # (B, 2048) after global average pooling
        return model
    if name == "convnext_tiny":
        model = torchvision.models.convnext_tiny(weights=None)
        # Keep classifier[0] (LayerNorm) and [1] (Flatten), drop the ImageNet Linear: Keras'
        # ConvNeXtTiny(include_top=False, pooling="avg") also ends in pooling + LayerNorm.
        model.classifier = model.classifier[:2]  # (B, 768)
        return model
    raise ValueError(f"unknown visual backbone {name!r}; known: {', '.join(VISUAL_BACKBONES)}")


def visual_branch(name: str, n_classes: int = N_CLASSES) -> Branch:
    """Vis-INC (`inception_v3`) or Vis-CONV (`convnext_tiny`), randomly initialised.

    Input: (B, H, W, 3) RGB frames, 0..255; the paper's 224 x 224 (InceptionV3 needs at
    least 75 x 75).
    """
    if name not in VISUAL_BACKBONES:
        raise ValueError(f"unknown visual backbone {name!r}; known: {', '.join(VISUAL_BACKBONES)}")
    spec = VISUAL_BACKBONES[name]
    trunk = nn.Sequential(Normalize(spec["mean"], spec["std"]), _visual_trunk(name))
    return Branch(trunk, spec["feature_dim"], n_classes)


def visual_backbone(branch: Branch) -> nn.Module:
    """The torchvision network inside a visual branch (the part ImageNet weights fill)."""
    return branch.trunk[1]


def load_visual_weights(branch: Branch, name: str, path: Path) -> None:
    """Fill a visual branch's backbone with a published ImageNet file (KNOWN_WEIGHTS[name]).

    The dense block stays randomly initialised. Raises WeightsError naming the file when it
    is unreadable or its keys do not fit.
    """
    state = to_backbone_state_dict(name, read_state_dict(path))
    load_state_dict_strict(visual_backbone(branch), state, source=f"weights file {path}")


# ---------------------------------------------------------------------------------------
# Phase II: fusion layer + dense layer (§II-B, Eqs. 1-3).

class Fusion(nn.Module):
    """Fusion layer f and dense layer FC(n_classes) over frozen branch embeddings.

    With a_k the audio and v_k the visual embeddings (each (B, D)), w_k, w_a, w_v, b
    trainable vectors of size D and * the element-wise product:
      A  = sum_k a_k * w_k,     V = sum_k v_k * w_k
      f1, f4 ("sum"):      f = A + V + b                          (Eq. 1)
      f2, f5 ("weighted"): f = A * w_a + V * w_v + b              (Eq. 2)
      f3, f6 ("concat"):   f = [A, V]  (2D)                       (Eq. 3)
    f1-f3 fuse FC(1024) embeddings (D = 1024), f4-f6 FC(10) ones (D = 10). The dense
    layer is one FC(n_classes); its softmax lives in the loss. As in Eqs. 1-3 and Fig. 1,
    nothing non-linear sits between the embeddings and the softmax.

    One modality alone (the paper's audio-only and visual-only systems with f4) drops
    the other's term: f1 = A + b, f2 = A * w_a + b, f3 = A.

    The paper gives no initial values; ours are w = 1 and b = 0, so training starts from
    the plain sum of the embeddings (the usual late-fusion baseline).
    """

    def __init__(self, name: str, n_audio: int, n_visual: int, dim: int,
                 n_classes: int = N_CLASSES):
        super().__init__()
        if name not in FUSIONS:
            raise ValueError(f"unknown fusion {name!r}; known: {', '.join(FUSIONS)}")
        if n_audio + n_visual == 0:
            raise ValueError("a fusion needs at least one embedding")
        self.equation = FUSIONS[name][0]
        self.n_audio, self.n_visual = n_audio, n_visual
        n_groups = (n_audio > 0) + (n_visual > 0)
        self.w = nn.Parameter(torch.ones(n_audio + n_visual, dim))  # w_1 ... w_5
        if self.equation == "weighted":
            self.w_group = nn.Parameter(torch.ones(n_groups, dim))  # w_a, w_v
        if self.equation in ("sum", "weighted"):
            self.b = nn.Parameter(torch.zeros(dim))
        out_dim = n_groups * dim if self.equation == "concat" else dim
        self.classifier = nn.Linear(out_dim, n_classes)

    def fuse(self, *embeddings: torch.Tensor) -> torch.Tensor:
        """Audio embeddings first, then visual ones, each (B, D) -> (B, D) or (B, 2D)."""
        if len(embeddings) != len(self.w):
            raise ValueError(f"expected {len(self.w)} embeddings, got {len(embeddings)}")
        e = torch.stack(embeddings, dim=1) * self.w  # (B, M, D)
        groups = [g.sum(1) for g in (e[:, : self.n_audio], e[:, self.n_audio :]) if g.shape[1]]
        if self.equation == "concat":
            return torch.cat(groups, dim=1)  # (B, n_groups * D)
        if self.equation == "weighted":
            groups = [g * w for g, w in zip(groups, self.w_group, strict=True)]
        return sum(groups) + self.b  # (B, D)

    def forward(self, *embeddings: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.fuse(*embeddings))  # (B, n_classes) logits
