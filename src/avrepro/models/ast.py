"""AST, the Audio Spectrogram Transformer (Gong, Chung & Glass, Interspeech 2021), as IMD
(§3.3) uses it: frozen, trained on AudioSet, read for an audio embedding and its 527
AudioSet label scores.

Built as the authors' release builds it (YuanGongND/ast, src/models/ast_models.py): a
DeiT-B/16 distilled ViT (timm `vit_deit_base_distilled_patch16_384`) whose patch
convolution takes one input channel with stride 10 in both axes, so that 16x16 patches
overlap by 6 (the paper's best AudioSet setting):
  x      log-mel filterbank, normalised (features.ast_features)     (B, T, F) = (B, 1024, 128)
         -> (B, 1, F, T): frequency is the image's height, time its width
  conv   16x16 kernel, stride (10, 10), 1 -> D channels             (B, D, f, t) = (B, D, 12, 101)
  tokens [CLS, DIST, patches f-major]  + pos_embed (1, 2 + f*t, D)   (B, 2 + f*t, D)
  blocks depth x pre-norm ViT block (MHSA, MLP 4D, GELU)            (B, 2 + f*t, D)
  norm   final LayerNorm; embedding = (CLS + DIST) / 2               (B, D)
  head   mlp_head = LayerNorm + Linear(D, 527); sigmoid in the loss   (B, 527)
Sizes are configurable (ASTConfig): the smoke tier runs a tiny AST on 3-s clips.

Our module names are timm's inside the ViT (blocks.i.attn.qkv, ...) and AST's for the head
(mlp_head.0/1), so the released checkpoint maps onto ours by dropping its wrappers
(`released_to_ours`).
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from avrepro.features.registry import WeightsError

AUDIOSET_CLASSES = 527
# timm's ViT/DeiT LayerNorms use eps 1e-6; AST's own mlp_head is a plain nn.LayerNorm
# (eps 1e-5). Both kept, so that the released weights compute what they computed.
VIT_LN_EPS = 1e-6
HEAD_LN_EPS = 1e-5
# Keys of the released file that AST's forward never reads: the ImageNet heads of the DeiT
# it started from (1000-way `head` on CLS, `head_dist` on DIST), left in `v` by AST.
RELEASED_UNUSED_PREFIXES = ("module.v.head.", "module.v.head_dist.")


@dataclass(frozen=True)
class ASTConfig:
    num_classes: int = AUDIOSET_CLASSES
    n_mels: int = 128
    frames: int = 1024  # 10.24 s at a 10-ms shift: AST's AudioSet target_length
    patch: int = 16
    fstride: int = 10
    tstride: int = 10
    dim: int = 768
    depth: int = 12
    heads: int = 12
    mlp_ratio: float = 4.0

    @property
    def grid(self) -> tuple[int, int]:
        """(f, t) patches: a convolution's output size, (12, 101) for 128 x 1024."""
        f = (self.n_mels - self.patch) // self.fstride + 1
        t = (self.frames - self.patch) // self.tstride + 1
        if f < 1 or t < 1:
            raise ValueError(f"a {self.n_mels} x {self.frames} input holds no {self.patch}-patch")
        return f, t


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not a multiple of heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)  # DeiT: qkv_bias=True
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        x = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])  # (B, heads, N, d_head)
        return self.proj(x.transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))  # exact GELU, timm's nn.GELU


class Block(nn.Module):
    """Pre-norm transformer block: x + MHSA(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=VIT_LN_EPS)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=VIT_LN_EPS)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, cfg: ASTConfig):
        super().__init__()
        self.proj = nn.Conv2d(
            1, cfg.dim, kernel_size=cfg.patch, stride=(cfg.fstride, cfg.tstride)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, 2).unsqueeze(1)  # (B, T, F) -> (B, 1, F, T)
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, f*t, D), frequency-major


class AST(nn.Module):
    """forward: (B, frames, n_mels) normalised fbank -> (embedding (B, D), logits (B, C))."""

    def __init__(self, cfg: ASTConfig):
        super().__init__()
        self.cfg = cfg
        f, t = cfg.grid
        self.patch_embed = PatchEmbed(cfg)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.dist_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 2 + f * t, cfg.dim))
        self.blocks = nn.ModuleList(
            Block(cfg.dim, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth)
        )
        self.norm = nn.LayerNorm(cfg.dim, eps=VIT_LN_EPS)
        self.mlp_head = nn.Sequential(
            nn.LayerNorm(cfg.dim, eps=HEAD_LN_EPS), nn.Linear(cfg.dim, cfg.num_classes)
        )
        self._init_weights()

    def _init_weights(self) -> None:
        # timm's ViT init (what AST trains from when not ImageNet-pretrained: the smoke
        # tier): tokens and positions N(0, 0.02) truncated, Linear weights likewise, biases
        # 0; the patch convolution keeps PyTorch's default, as in timm's default mode.
        for p in (self.cls_token, self.dist_token, self.pos_embed):
            nn.init.trunc_normal_(p, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[1:] != (self.cfg.frames, self.cfg.n_mels):
            raise ValueError(
                f"AST expects (B, {self.cfg.frames}, {self.cfg.n_mels}) input, got {tuple(x.shape)}"
            )
        x = self.patch_embed(x)  # (B, f*t, D)
        tokens = torch.cat([self.cls_token, self.dist_token], dim=1).expand(len(x), -1, -1)
        x = torch.cat([tokens, x], dim=1) + self.pos_embed  # (B, 2 + f*t, D)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        embedding = (x[:, 0] + x[:, 1]) / 2  # (B, D): AST averages CLS and DIST
        return embedding, self.mlp_head(embedding)  # (B, D), (B, C)


def released_to_ours(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The authors' checkpoint (audioset_10_10_0.4593.pth: an nn.DataParallel state dict,
    `module.v.*` the timm DeiT, `module.mlp_head.*` AST's head) in our key layout.

    Every key is either mapped or one of the known unused ImageNet heads; anything else
    raises WeightsError, so a file of another layout is never half-read. Missing keys
    and shapes are checked when loading (weights.load_state_dict_strict)."""
    ours, unknown = {}, []
    for key, tensor in state_dict.items():
        if key.startswith(RELEASED_UNUSED_PREFIXES):
            continue
        if key.startswith("module.v."):
            ours[key.removeprefix("module.v.")] = tensor
        elif key.startswith("module.mlp_head."):
            ours[key.removeprefix("module.")] = tensor
        else:
            unknown.append(key)
    if unknown:
        shown = ", ".join(unknown[:8])
        raise WeightsError(f"not an AST checkpoint: {len(unknown)} unknown keys ({shown})")
    return ours


def is_released_layout(state_dict: dict[str, torch.Tensor]) -> bool:
    """True for the authors' DataParallel layout, False for ours (e.g. the smoke tier's)."""
    return any(key.startswith("module.") for key in state_dict)
