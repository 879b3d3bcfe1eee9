"""IMD (Alfasly et al., CVPR 2022): a two-stream video transformer (RGB, optical flow), a frozen
audio transformer's embedding through a learnable audio bottleneck, and the trainable
irrelevant modality dropout that decides per clip whether the audio is fused (§3.2-3.5,
Figs. 2-4). No public implementation exists; where the paper is silent the choice below
follows TimeSformer (Bertasius et al. 2021, facebookresearch/TimeSformer, vit.py), which the
paper adopts for its tokenisation and space-time blocks, and says so.

Shapes (B clips, T frames, C channels = 3 RGB / 2 flow, P patch, N = HW/P^2 patches, D width):
  stream input        V                                            (B, T, C, H, W)
  tokens (Eq. 1)      z0 = [cls; patch_embed(V)] + E_pos + E_time  (B, 1 + T*N, D)
  L - st spatial blocks (Eq. 2), st divided space-time blocks (Eq. 3)
  stream output       LN(cls)                                      (B, D)
  visual (§3.2)       ReLU(FC(ReLU(FC([cls_rgb; cls_flow]))))      (B, D)  (one stream: its cls)
  audio (§3.3, AB)    ReLU(FC(ReLU(FC(LN(ast_embedding)))))        (B, D)
  IMD (Eqs. 4-8)      z = [a; v] (B, 2D) -> rev (B,) -> z = [a·δ; v] -> z_av = MLP(LN(z)) (B, D)
  head (Eq. 9)        logits = MLP(LN(z_av))                       (B, num_classes)
Table 5's baselines replace Eqs. 4-8 by another fusion of (a, v) with the relevance network
off; Table 3's modality subsets drop streams (see IMDNet.forward).
"""

import math
from dataclasses import dataclass, replace
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

CHANNELS = {"rgb": 3, "flow": 2}  # input channels of a frame (§3.2: C = 3 RGB, C = 2 flow)
VISUAL = tuple(CHANNELS)
MODALITIES = ("audio", *VISUAL)
FUSIONS = ("imd", "concat", "se", "nl", "avc", "gmu")
SCHEMES = ("mask", "weight")  # Table 4's M and W
# L3-Net's fusion layer width (Arandjelović & Zisserman 2017, its network architecture: the
# concatenated 512-d audio and visual embeddings -> fc 128 -> ReLU -> fc 2); AVC keeps its 128.
AVC_WIDTH = 128
# Squeeze-excitation reduction ratio: SENet's default r = 16 (Hu et al. 2018).
SE_REDUCTION = 16


@dataclass(frozen=True)
class IMDConfig:
    num_classes: int
    modalities: tuple[str, ...] = ("rgb", "flow", "audio")
    # How audio meets the visual embedding when both are present; ignored otherwise.
    fusion: str = "imd"
    image_size: int = 224
    patch: int = 16
    frames: int = 8
    dim: int = 768
    depth: int = 12  # L: all blocks of a stream
    st_blocks: int = 2  # the last st of them are divided space-time (§3.2: 2)
    heads: int = 12
    mlp_ratio: float = 4.0
    audio_dim: int = 768  # AST's embedding (ViT-B width)
    alpha: float = 0.25  # relevance threshold (Table 4's best)
    scheme: str = "mask"
    dropout: float = 0.0  # in the fusion/head MLPs (timm ViT's drop_rate; the paper is silent)
    # Stochastic depth in the streams' blocks: TimeSformer's ViT-B fine-tuning sets
    # drop_path_rate 0.1 (vit.py, vit_base_patch16_224); the paper is silent.
    drop_path: float = 0.0

    def __post_init__(self) -> None:
        unknown = set(self.modalities) - set(MODALITIES)
        if unknown or not self.modalities or len(set(self.modalities)) != len(self.modalities):
            raise ValueError(f"modalities must be distinct names from {MODALITIES}, "
                             f"not {self.modalities}")
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, not {self.fusion!r}")
        if self.scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, not {self.scheme!r}")
        if self.image_size % self.patch:
            raise ValueError(f"image_size {self.image_size} is not a multiple of patch "
                             f"{self.patch}")
        if not 0 <= self.st_blocks <= self.depth:
            raise ValueError(f"st_blocks must be within 0..depth ({self.depth})")
        if self.dim % self.heads:
            raise ValueError(f"dim {self.dim} is not divisible by heads {self.heads}")

    @property
    def visual(self) -> tuple[str, ...]:
        return tuple(m for m in VISUAL if m in self.modalities)

    @property
    def audio(self) -> bool:
        return "audio" in self.modalities

    @classmethod
    def preset(cls, size: str, num_classes: int, **overrides) -> "IMDConfig":
        """IMD-B (ViT-B/16, §4.1: patch 16, depth 12, D 768, 12 heads) or IMD-L (ViT-L/16:
        depth 24, D 1024, 16 heads, Table 6), 8 frames of 224², the last 2 blocks space-time;
        `overrides` replace any field."""
        sizes = {"B": dict(dim=768, depth=12, heads=12), "L": dict(dim=1024, depth=24, heads=16)}
        if size not in sizes:
            raise ValueError(f"size must be one of {tuple(sizes)}, not {size!r}")
        base = cls(num_classes=num_classes, image_size=224, patch=16, frames=8, st_blocks=2,
                   mlp_ratio=4.0, drop_path=0.1, **sizes[size])
        return replace(base, **overrides)


class IMDOutput(NamedTuple):
    logits: torch.Tensor  # (B, num_classes), before the softmax (in the loss)
    relevance: torch.Tensor | None  # (B,) rev in (0, 1); None without the relevance network
    relevance_logit: torch.Tensor | None  # (B,) its logit, for a numerically stable BCE


def mlp(in_dim: int, hidden: int, out_dim: int, dropout: float = 0.0) -> nn.Sequential:
    """ViT's MLP (Dosovitskiy et al. 2021, Eq. 3; timm's Mlp): FC -> GELU -> FC, its hidden
    width D. The paper's "MLP" in Eqs. 4, 8 and 9 gives no layout; this is the one its
    transformer blocks use. Dropout on the hidden layer only (never on the logits)."""
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Dropout(dropout),
                         nn.Linear(hidden, out_dim))


def fc_relu(in_dim: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, out_dim), nn.ReLU())


# ---------------------------------------------------------------------------------------------
# Visual stream (§3.2)


class Attention(nn.Module):
    """Multi-head self-attention with timm's layout (qkv, proj), so ViT weights load by name."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape  # (batch of sequences, tokens, D)
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        x = F.scaled_dot_product_attention(q, k, v)  # (b, heads, n, D/heads)
        return self.proj(x.transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    """The block MLP with timm's names (fc1, fc2), for the same reason."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    """A spatial block (Eq. 2), or with `temporal` a divided space-time block (Eq. 3).

    Eq. 2 as printed has no MLP; the paper's text ("each block consists of MSA, LN and MLP")
    and the ViT blocks whose weights it loads have one, so every block ends with
    x = x + MLP(LN(x)), pre-LN as in ViT.

    Spatial attention runs within each frame. The video has one CLS token (Eq. 1, z_00); as in
    TimeSformer's divided block, it is copied into every frame's sequence, attends there, and
    its T updates are averaged. On T = 1 the block is exactly a ViT block.

    Temporal attention (Eq. 3, first line) runs over the T frames at each patch position, on
    LN(z), then LR (TimeSformer's temporal_fc) before the residual; the CLS token is not part
    of it, as in TimeSformer. temporal_fc starts at zero (TimeSformer's init), so a loaded ViT
    block starts out unchanged by the new temporal path.
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: float, drop_path: float,
                 temporal: bool) -> None:
        super().__init__()
        if temporal:
            self.temporal_norm1 = nn.LayerNorm(dim, eps=1e-6)
            self.temporal_attn = Attention(dim, heads)
            self.temporal_fc = nn.Linear(dim, dim)
        self.temporal = temporal
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)  # timm ViT's eps
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        if drop_path > 0:
            from timm.layers import DropPath  # timm's import costs seconds; only this needs it

            self.drop_path = DropPath(drop_path)
        else:
            self.drop_path = nn.Identity()

    def zero_init_(self) -> None:
        if self.temporal:
            nn.init.zeros_(self.temporal_fc.weight)
            nn.init.zeros_(self.temporal_fc.bias)

    def forward(self, z: torch.Tensor, t: int) -> torch.Tensor:
        b, _, d = z.shape  # z (B, 1 + T*N, D): [cls; frame 1's N patches; ...; frame T's]
        cls, x = z[:, :1], z[:, 1:].view(b, t, -1, d)  # (B, 1, D), (B, T, N, D)
        n = x.shape[2]
        if self.temporal:
            xt = x.transpose(1, 2).reshape(b * n, t, d)  # one sequence per patch position
            res = self.temporal_attn(self.temporal_norm1(xt)).view(b, n, t, d).transpose(1, 2)
            x = x + self.drop_path(self.temporal_fc(res))  # (B, T, N, D)
        xs = torch.cat([cls[:, None].expand(b, t, 1, d), x], dim=2)  # per frame [cls; patches]
        res = self.attn(self.norm1(xs.view(b * t, n + 1, d))).view(b, t, n + 1, d)
        res = torch.cat([res[:, :, 0].mean(dim=1, keepdim=True),  # the T cls updates averaged
                         res[:, :, 1:].flatten(1, 2)], dim=1)  # (B, 1 + T*N, D)
        z = torch.cat([cls, x.flatten(1, 2)], dim=1) + self.drop_path(res)
        return z + self.drop_path(self.mlp(self.norm2(z)))


class PatchEmbed(nn.Module):
    """Each frame cut into P x P patches by a convolution of kernel = stride = P (ViT)."""

    def __init__(self, channels: int, patch: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(channels, dim, kernel_size=patch, stride=patch)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        b, t = v.shape[:2]  # (B, T, C, H, W)
        x = self.proj(v.flatten(0, 1))  # (B*T, D, H/P, W/P)
        return x.flatten(2).transpose(1, 2).view(b, t, -1, x.shape[1])  # (B, T, N, D)


class VideoViT(nn.Module):
    """One stream of the two-stream transformer: video clip -> LN(CLS) (B, D).

    Tokens as TimeSformer builds them (Eq. 1): the spatial embedding of ViT (N + 1 positions,
    the first for CLS) plus a temporal embedding (T positions, zero at start as in TimeSformer)
    added to the patch tokens only. The first depth - st_blocks blocks are spatial, the last
    st_blocks divided space-time (§3.2). Names follow timm's ViT (cls_token, pos_embed,
    patch_embed.proj, blocks.i.*, norm) so ImageNet weights load key for key (vit_weights.py).
    """

    def __init__(self, cfg: IMDConfig, channels: int) -> None:
        super().__init__()
        grid = cfg.image_size // cfg.patch
        self.patch_embed = PatchEmbed(channels, cfg.patch, cfg.dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid + 1, cfg.dim))
        self.time_embed = nn.Parameter(torch.zeros(1, cfg.frames, 1, cfg.dim))
        first_st = cfg.depth - cfg.st_blocks
        # stochastic depth rising linearly from 0 to drop_path over the blocks (timm, TimeSformer)
        rates = [cfg.drop_path * i / max(1, cfg.depth - 1) for i in range(cfg.depth)]
        self.blocks = nn.ModuleList(
            Block(cfg.dim, cfg.heads, cfg.mlp_ratio, rates[i], temporal=i >= first_st)
            for i in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.frames = cfg.frames
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) -> (B, D)."""
        if v.shape[1] != self.frames:
            raise ValueError(f"expected {self.frames} frames, got {v.shape[1]}")
        x = self.patch_embed(v) + self.pos_embed[:, None, 1:]  # (B, T, N, D)
        x = x + self.time_embed  # (1, T, 1, D): the same for every patch of a frame
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(x.shape[0], -1, -1)  # (B, 1, D)
        z = torch.cat([cls, x.flatten(1, 2)], dim=1)  # (B, 1 + T*N, D)
        for block in self.blocks:
            z = block(z, self.frames)
        return self.norm(z[:, 0])  # the CLS token after the final LN: (B, D)


# ---------------------------------------------------------------------------------------------
# Audio bottleneck (§3.3) and the irrelevant modality dropout (§3.4)


class AudioBottleneck(nn.Module):
    """AB: "one LN and two LR each followed by ReLU" on AST's embedding: (B, A) -> (B, D)."""

    def __init__(self, audio_dim: int, dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(audio_dim), fc_relu(audio_dim, dim),
                                 fc_relu(dim, dim))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self.net(audio)


class RelevanceNetwork(nn.Module):
    """RN, Eq. 4: rev = σ(MLP(LN(z)) + z) on z = [a; v] (2D). Read as printed, σ of a 2D-vector
    would be a 2D-vector, while Eq. 7 scales the D-dim audio embedding by the one number δ
    and Fig. 4 / §3.4 speak of one relevance score per clip. So Eq. 4 is taken as a residual
    MLP block, h = z + MLP(LN(z)), then a linear head to one logit, rev = σ(logit)."""

    def __init__(self, dim: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(2 * dim)
        self.mlp = mlp(2 * dim, dim, 2 * dim, dropout)
        self.head = nn.Linear(2 * dim, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = z + self.mlp(self.norm(z))  # (B, 2D)
        return self.head(h)[:, 0]  # relevance logit (B,)


def modality_gate(rev: torch.Tensor, alpha: float, scheme: str) -> torch.Tensor:
    """δ of Eq. 5 (B,). Eq. 5 as printed tests "z < α"; z is the embedding, the test is on the
    relevance (Fig. 4, §4.2.3: "the relevance is less than α"), so it reads rev < α (a
    footnote of the tables records the misprint).
    mask (M): δ = 0 where rev < α, else rev; weight (W): δ = rev everywhere (§4.2.3).
    The threshold is a hard step and passes no gradient; where the audio is kept, δ = rev
    multiplies it, so the classification loss also trains the relevance network."""
    if scheme == "weight":
        return rev
    return rev * (rev >= alpha).to(rev.dtype)


class IMD(nn.Module):
    """Eqs. 4-8: (a, v) (B, D) each -> z_av (B, D), relevance logit (B,)."""

    def __init__(self, cfg: IMDConfig) -> None:
        super().__init__()
        self.rn = RelevanceNetwork(cfg.dim, cfg.dropout)
        self.norm = nn.LayerNorm(2 * cfg.dim)
        self.mlp = mlp(2 * cfg.dim, cfg.dim, cfg.dim, cfg.dropout)  # Eq. 8: 2D -> D
        self.alpha, self.scheme = cfg.alpha, cfg.scheme
        self.out_dim = cfg.dim

    def forward(self, a: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logit = self.rn(torch.cat([a, v], dim=1))  # Eq. 4 on z = [a; v] (B, 2D)
        delta = modality_gate(torch.sigmoid(logit), self.alpha, self.scheme)  # Eq. 5 (B,)
        z = torch.cat([a * delta[:, None], v], dim=1)  # Eqs. 6-7 (B, 2D)
        return self.mlp(self.norm(z)), logit  # Eq. 8: z_av (B, D)


# ---------------------------------------------------------------------------------------------
# Table 5's fusion baselines: (a, v) (B, D) each -> fused (B, out_dim), relevance network off.


class ConcatFusion(nn.Module):
    """late-concat (Wang et al., CVPR 2020, "What makes training multi-modal classification
    networks hard?": the modalities' final features concatenated before the classifier):
    z = [a; v] through the same Eq. 8 MLP as IMD, i.e. IMD with δ = 1 for every clip."""

    def __init__(self, cfg: IMDConfig) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(2 * cfg.dim)
        self.mlp = mlp(2 * cfg.dim, cfg.dim, cfg.dim, cfg.dropout)
        self.out_dim = cfg.dim

    def forward(self, a: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.norm(torch.cat([a, v], dim=1)))


class SEGateFusion(ConcatFusion):
    """SE gate (Wang et al. 2020, fusion by gating after Kiela et al. 2018 with
    squeeze-and-excitation, Hu et al. 2018): the squeeze is the two embeddings concatenated
    (they are already pooled vectors); the excitation FC (2D -> 2D/r) -> ReLU -> FC (-> 2D) ->
    sigmoid rescales every channel of both modalities from both; then late-concat's MLP."""

    def __init__(self, cfg: IMDConfig) -> None:
        super().__init__(cfg)
        hidden = max(1, 2 * cfg.dim // SE_REDUCTION)
        self.excite = nn.Sequential(fc_relu(2 * cfg.dim, hidden), nn.Linear(hidden, 2 * cfg.dim))

    def forward(self, a: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        z = torch.cat([a, v], dim=1)  # (B, 2D)
        return self.mlp(self.norm(z * torch.sigmoid(self.excite(z))))


class NLGateFusion(nn.Module):
    """NL gate (Wang et al. 2020, a non-local block, Wang et al. CVPR 2018, across
    modalities): the visual embedding is the query; keys and values are the two modality
    embeddings {a, v} (with the audio alone as key, one key, the softmax would be 1 and the
    attention no gate at all), so the softmax weight on the audio is a learned per-clip gate.
    v' = v + W_z(attention), W_z zero at start as non-local blocks start as the identity.
    The output is v' (D): audio reaches the head only through the gate, as in a gated
    mid-fusion."""

    def __init__(self, cfg: IMDConfig) -> None:
        super().__init__()
        self.q, self.k, self.v = (nn.Linear(cfg.dim, cfg.dim) for _ in range(3))
        self.out = nn.Linear(cfg.dim, cfg.dim)
        self.out_dim = cfg.dim

    def zero_init_(self) -> None:
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, a: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        kv = torch.stack([a, v], dim=1)  # (B, 2, D)
        scores = torch.einsum("bd,bjd->bj", self.q(v), self.k(kv)) / math.sqrt(v.shape[1])
        attended = torch.einsum("bj,bjd->bd", scores.softmax(dim=1), self.v(kv))  # (B, D)
        return v + self.out(attended)


class AVCFusion(nn.Module):
    """AVC: L3-Net's fusion (Arandjelović & Zisserman, ICCV 2017): the two embeddings
    concatenated -> FC 128 -> ReLU. L3-Net then has fc 2 for correspondence; here the
    classification head (Eq. 9) takes the 128-d vector instead."""

    def __init__(self, cfg: IMDConfig) -> None:
        super().__init__()
        self.net = fc_relu(2 * cfg.dim, AVC_WIDTH)
        self.out_dim = AVC_WIDTH

    def forward(self, a: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([a, v], dim=1))


class GMUFusion(nn.Module):
    """GMU (Arevalo et al., ICLR-W 2017, its bimodal unit): h_a = tanh(W_a a),
    h_v = tanh(W_v v), z = σ(W_z [a; v]), h = z * h_v + (1 - z) * h_a."""

    def __init__(self, cfg: IMDConfig) -> None:
        super().__init__()
        self.wa = nn.Linear(cfg.dim, cfg.dim, bias=False)  # the GMU's W_a, W_v have no bias
        self.wv = nn.Linear(cfg.dim, cfg.dim, bias=False)
        self.wz = nn.Linear(2 * cfg.dim, cfg.dim, bias=False)
        self.out_dim = cfg.dim

    def forward(self, a: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        z = torch.sigmoid(self.wz(torch.cat([a, v], dim=1)))
        return z * torch.tanh(self.wv(v)) + (1 - z) * torch.tanh(self.wa(a))


BASELINES = {"concat": ConcatFusion, "se": SEGateFusion, "nl": NLGateFusion,
             "avc": AVCFusion, "gmu": GMUFusion}


# ---------------------------------------------------------------------------------------------
# The whole network


class IMDNet(nn.Module):
    """Any of Table 3's modality subsets, fused by IMD or a Table 5 baseline.

    audio only: AB -> head. Visual only: the stream's CLS (one stream) or the two CLS fused by
    two FC + ReLU (§3.2) -> head. Audio + visual: `cfg.fusion` of (AB(audio), visual) -> head.
    The head is Eq. 9's MLP(LN(.)) to the classes.
    """

    def __init__(self, cfg: IMDConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.streams = nn.ModuleDict({m: VideoViT(cfg, CHANNELS[m]) for m in cfg.visual})
        if len(cfg.visual) == 2:  # §3.2: [cls_rgb; cls_flow] (2D) -> D -> D, ReLU after each
            self.visual_fusion = nn.Sequential(fc_relu(2 * cfg.dim, cfg.dim),
                                               fc_relu(cfg.dim, cfg.dim))
        if cfg.audio:
            self.bottleneck = AudioBottleneck(cfg.audio_dim, cfg.dim)
        fused_dim = cfg.dim
        if cfg.audio and cfg.visual:
            self.fusion = IMD(cfg) if cfg.fusion == "imd" else BASELINES[cfg.fusion](cfg)
            fused_dim = self.fusion.out_dim
        # Eq. 9: Y = softmax(MLP(LN(z_av))); the softmax lives in the loss.
        self.head = nn.Sequential(nn.LayerNorm(fused_dim),
                                  mlp(fused_dim, cfg.dim, cfg.num_classes, cfg.dropout))
        # The streams take timm ViT's init (what their pretrained weights replace); the new
        # layers on top, stacks of FC + ReLU, keep PyTorch's default (He-uniform): ViT's
        # std 0.02 shrinks a D-wide FC's output by 0.02 sqrt(D) (0.55 at D = 768, 0.11 at
        # the smoke tier's 32), so two of them in a row start the fused paths near zero.
        self.streams.apply(_init_linear)
        for module in self.modules():  # layers that start at zero, over the init above
            if hasattr(module, "zero_init_"):
                module.zero_init_()

    @property
    def has_relevance(self) -> bool:
        return isinstance(getattr(self, "fusion", None), IMD)

    def visual(self, rgb: torch.Tensor | None, flow: torch.Tensor | None) -> torch.Tensor:
        inputs = {"rgb": rgb, "flow": flow}
        cls = [self.streams[m](_required(inputs[m], m)) for m in self.cfg.visual]  # (B, D) each
        if len(cls) == 1:
            return cls[0]
        return self.visual_fusion(torch.cat(cls, dim=1))  # (B, D)

    def forward(self, rgb: torch.Tensor | None = None, flow: torch.Tensor | None = None,
                audio: torch.Tensor | None = None) -> IMDOutput:
        """rgb (B, T, 3, H, W), flow (B, T, 2, H, W) float, normalised; audio (B, audio_dim),
        AST's embedding (zeros for a clip without audio). Inputs of modalities the config
        does not use must be None."""
        for name, x in (("rgb", rgb), ("flow", flow), ("audio", audio)):
            if x is not None and name not in self.cfg.modalities:
                raise ValueError(f"got {name} input but modalities are {self.cfg.modalities}")
        a = self.bottleneck(_required(audio, "audio")) if self.cfg.audio else None  # (B, D)
        v = self.visual(rgb, flow) if self.cfg.visual else None  # (B, D)
        logit = None
        if a is None or v is None:
            fused = a if v is None else v
        elif self.has_relevance:
            fused, logit = self.fusion(a, v)
        else:
            fused = self.fusion(a, v)
        relevance = None if logit is None else torch.sigmoid(logit)
        return IMDOutput(self.head(fused), relevance, logit)


def _required(x: torch.Tensor | None, name: str) -> torch.Tensor:
    if x is None:
        raise ValueError(f"the model uses {name} but got no {name} input")
    return x


def _init_linear(module: nn.Module) -> None:
    """timm ViT's init: linear weights truncated normal (std 0.02), biases zero."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def count_parameters(cfg: IMDConfig) -> int:
    """Parameters of the network `cfg` describes, built on the meta device (no memory, no
    init cost): how IMD-B and IMD-L sizes are reported."""
    with torch.device("meta"):
        model = IMDNet(cfg)
    return sum(p.numel() for p in model.parameters())
