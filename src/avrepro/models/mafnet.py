"""MAFnet: Brousmiche, Rouat, Dupont, "Multi-level attention fusion network for audio-visual
event recognition" (§3, §4.3), with the switches of its ablations (Tables 2-4).

Input: a video cut into T one-second windows (§3.1, §4.2), per window
  visual : DenseNet-201 last-conv maps averaged over 16 frames   (B, T, 1920, 7, 7)  k = 1
  audio  : VGGish conv4_2 maps                                   (B, T, 512, 12, 8)  k = 2
Windows past a video's end are zeros (§4.3, "zero padded to obtain the same length").

Full MAFnet (Table 1; Table 4 "FiLM layer in audio path"):
  audio  : residual block (512 filters) whose FiLM layer takes gamma, beta from the
           window's average-pooled visual features (§3.5, Fig. 4) -> average pool (512)
  each   : dense 512 -> batch norm -> ReLU  ("a dense layer in the path of each modality
           before the attention module", §3.4; 512 units and BN, §4.3)
  fuse   : modality & temporal attention (Eq. 8-10): a score per window and modality,
           softmax over all T x K, weighted sums over time concatenated over modalities
  output : dense n_classes -> batch norm; cross-entropy (§4.3)

Switches (one configuration per ablation row):
  fusion    visual | audio (one path, Table 2's unimodal rows) | add | concat | mcb | dmr
  attention none | temp | mod | both  (Table 3)
  film      none (no residual block) | res (a block without FiLM in both paths) |
            both | audio | visual (the path whose block is FiLM-conditioned; Table 4)

Where the paper is silent we follow the authors' released code (numediart/MAFnet,
model.py and layers.py, TensorFlow), as noted at each place: the attention score
network, the FiLM generator and residual block, the output batch norm, BN's constants.
"""

import torch
from torch import nn

from avrepro.models.dmrn import DualMultimodalResidual
from avrepro.models.mcb import DEFAULT_DIM, CompactBilinearPooling

FUSIONS = ("visual", "audio", "add", "concat", "mcb", "dmr")
ATTENTIONS = ("none", "temp", "mod", "both")
FILMS = ("none", "res", "both", "audio", "visual")
UNIMODAL = ("visual", "audio")

# The authors' batch norm (layers.py): moving averages with decay 0.999 (PyTorch
# momentum 1 - 0.999) and epsilon 1e-3.
BN_MOMENTUM, BN_EPS = 0.001, 1e-3


def check_config(fusion: str, attention: str, film: str) -> None:
    """Raise ValueError for a switch value or a combination no ablation row uses."""
    for name, value, allowed in (("fusion", fusion, FUSIONS), ("attention", attention, ATTENTIONS),
                                 ("film", film, FILMS)):
        if value not in allowed:
            raise ValueError(f"MAFnet {name} {value!r} is not one of {allowed}")
    if fusion in UNIMODAL:
        # §4.5: "the network comprises only the temporal attention module without the
        # modality attention module as only one modality is present"; no lateral path.
        if attention not in ("none", "temp") or film != "none":
            raise ValueError(
                f"a one-path MAFnet (fusion {fusion!r}) takes attention 'none' or 'temp' and "
                f"film 'none', got attention {attention!r}, film {film!r}"
            )


class FiLMGenerator(nn.Module):
    """gamma, beta of every feature map from a conditioning vector (§3.5, Eq. 11).

    One dense layer to 2 x channels, as in the authors' FILM_generator, which also
    predicts gamma as an offset from 1 so that an untrained FiLM layer is the identity.
    """

    def __init__(self, cond_dim: int, channels: int):
        super().__init__()
        self.dense = nn.Linear(cond_dim, 2 * channels)

    def forward(self, condition: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        delta_gamma, beta = self.dense(condition).chunk(2, dim=-1)  # (N, C) each
        return 1 + delta_gamma, beta


class ResidualBlock(nn.Module):
    """FiLM's residual block (Perez et al.; Fig. 4), as the authors' FILMed_block:

        res = ReLU(conv1x1(x));  out = ReLU(FiLM(BN(conv3x3(res)))) + res

    Without a (gamma, beta) it is the same block with no FiLM (Table 4, first row).
    """

    def __init__(self, in_channels: int, channels: int, bn_momentum: float = BN_MOMENTUM):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, kernel_size=1)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.bn = nn.BatchNorm2d(channels, eps=BN_EPS, momentum=bn_momentum)

    def modulate(self, x, film=None):
        """(residual, maps before FiLM, maps after FiLM), each (N, C, H, W) (Figure 7)."""
        res = torch.relu(self.conv1(x))
        before = self.bn(self.conv2(res))
        if film is None:
            return res, before, before
        gamma, beta = film
        return res, before, gamma[:, :, None, None] * before + beta[:, :, None, None]  # Eq. 12

    def forward(self, x: torch.Tensor, film=None) -> torch.Tensor:
        res, _, after = self.modulate(x, film)
        return torch.relu(after) + res


class ModalityPath(nn.Module):
    """One modality up to the attention module: (B, T, C[, H, W]) -> (B, T, hidden).

    With a residual block it needs the window's feature maps; without one, maps are
    average-pooled first (§3.1), so pooled (B, T, C) input gives the same result.
    A FiLM generator conditioning this path's block belongs to this path (the authors'
    code names it FILM_for_sound, with the audio path's variables).
    """

    def __init__(self, in_dim: int, hidden: int, block: str | None, cond_dim: int,
                 bn_momentum: float = BN_MOMENTUM):
        super().__init__()
        self.block = ResidualBlock(in_dim, hidden, bn_momentum) if block else None
        self.film = FiLMGenerator(cond_dim, hidden) if block == "film" else None
        self.dense = nn.Linear(hidden if block else in_dim, hidden)
        self.bn = nn.BatchNorm1d(hidden, eps=BN_EPS, momentum=bn_momentum)

    def embed(self, maps: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) -> (B, T, C'): the block's output (or the input) pooled over space."""
        if self.block is None:
            return maps.mean((-2, -1)) if maps.dim() == 5 else maps
        if maps.dim() != 5:
            raise ValueError(f"a path with a residual block needs feature maps (B, T, C, H, W), "
                             f"got {tuple(maps.shape)}")
        b, t = maps.shape[:2]
        film = self.film(condition.flatten(0, 1)) if self.film is not None else None
        out = self.block(maps.flatten(0, 1), film)  # (B*T, hidden, H, W)
        return out.mean((-2, -1)).view(b, t, -1)

    def forward(self, maps: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        x = self.dense(self.embed(maps, condition))  # (B, T, hidden)
        # Normalised over batch and windows together, as the authors' moments over axes (0, 1).
        x = self.bn(x.transpose(1, 2)).transpose(1, 2)
        return torch.relu(x)


class ModalityTemporalAttention(nn.Module):
    """Attention weights (B, T, K) of window features (B, T, K, D) (§3.2-3.4).

    The score network f_att is shared by every window and modality ("the attention module
    needs each modality to have the same dimension", §3.4). Eq. 1/4/8 write it as one
    ReLU layer; the authors' code uses a 512-unit ReLU layer and a linear score
    (Dense(512, relu), Dense(1)), which we follow. Normalisation per mode:
      both : softmax over all T x K scores (Eq. 9)
      temp : softmax over the T windows, per modality (Eq. 2)
      mod  : softmax over the K modalities, per window (Eq. 5); the paper does not say how
             windows are then combined: we average them (weights / T)
      none : every window of every modality weighs 1 / T (a mean over time)
    """

    def __init__(self, dim: int, hidden: int, mode: str):
        super().__init__()
        self.mode = mode
        self.score = None
        if mode != "none":
            self.score = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, k, _ = x.shape
        if self.score is None:
            return x.new_full((b, t, k), 1.0 / t)
        z = self.score(x).squeeze(-1)  # (B, T, K)
        if self.mode == "temp":
            return torch.softmax(z, dim=1)
        if self.mode == "mod":
            return torch.softmax(z, dim=2) / t
        return torch.softmax(z.flatten(1), dim=1).view(b, t, k)


class MAFnet(nn.Module):
    """audio (B, T, Da[, H, W]), visual (B, T, Dv[, H, W]) -> (B, n_classes) logits.

    `visual` and `audio` are the two paths (ModalityPath; None when a one-path variant
    leaves a modality out). The training step that drops the visual update freezes
    `self.visual` (avrepro.train.mafnet).
    """

    def __init__(
        self,
        n_classes: int,
        fusion: str = "concat",
        attention: str = "both",
        film: str = "audio",
        visual_dim: int = 1920,
        audio_dim: int = 512,
        hidden: int = 512,
        mcb_dim: int = DEFAULT_DIM,
        bn_momentum: float = BN_MOMENTUM,
    ):
        super().__init__()
        check_config(fusion, attention, film)
        self.fusion, self.film_location = fusion, film

        def block(path: str) -> str | None:  # the residual block a path has, if any
            if film == "res":
                return "plain"
            return "film" if film in ("both", path) else None

        self.visual = self.audio = None
        if fusion != "audio":
            self.visual = ModalityPath(visual_dim, hidden, block("visual"), audio_dim, bn_momentum)
        if fusion != "visual":
            self.audio = ModalityPath(audio_dim, hidden, block("audio"), visual_dim, bn_momentum)
        self.attention = ModalityTemporalAttention(hidden, hidden, attention)

        out_dim = {"concat": 2 * hidden, "mcb": mcb_dim}.get(fusion, hidden)
        if fusion == "mcb":
            self.mcb = CompactBilinearPooling(hidden, hidden, mcb_dim)
        if fusion == "dmr":
            self.dmr = DualMultimodalResidual(hidden)
        # The authors' "Dense multimodal" layer is followed by batch norm on the logits.
        self.head = nn.Linear(out_dim, n_classes)
        self.head_bn = nn.BatchNorm1d(n_classes, eps=BN_EPS, momentum=bn_momentum)

    @property
    def needs_maps(self) -> dict[str, bool]:
        """Whether each modality's input must keep its spatial maps (a residual block)."""
        return {"audio": self.audio is not None and self.audio.block is not None,
                "visual": self.visual is not None and self.visual.block is not None}

    def paths(self, audio: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        """Window features of the paths present, visual (k=1) then audio (k=2):
        (B, T, K, hidden)."""
        audio, visual = audio.float(), visual.float()  # stores may hold float16
        audio_vec = audio.mean((-2, -1)) if audio.dim() == 5 else audio  # (B, T, Da)
        visual_vec = visual.mean((-2, -1)) if visual.dim() == 5 else visual  # (B, T, Dv)
        x = []
        if self.visual is not None:
            x.append(self.visual(visual, condition=audio_vec))
        if self.audio is not None:
            x.append(self.audio(audio, condition=visual_vec))
        return torch.stack(x, dim=2)

    def forward(self, audio: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        x = self.paths(audio, visual)  # (B, T, K, hidden)
        weights = self.attention(x)  # (B, T, K)
        o = (weights.unsqueeze(-1) * x).sum(dim=1)  # (B, K, hidden): sum over time (Eq. 10)
        if self.fusion in UNIMODAL:
            fused = o[:, 0]
        elif self.fusion == "concat":
            fused = o.flatten(1)  # Eq. 10's concatenation, (B, 2 * hidden)
        elif self.fusion == "add":
            fused = o.sum(dim=1)  # Zhou et al.'s weighted sum of the modalities
        elif self.fusion == "mcb":
            fused = self.mcb(o[:, 0], o[:, 1])
        else:
            fused = self.dmr(o[:, 1], o[:, 0])  # (audio, visual)
        return self.head_bn(self.head(fused))  # (B, n_classes)

    @torch.no_grad()
    def film_embeddings(self, audio: torch.Tensor, visual: torch.Tensor):
        """The audio residual block's maps just before and after FiLM, average-pooled over
        space (Figure 7): two (B, T, 512) tensors."""
        if self.audio is None or self.audio.film is None:
            raise ValueError(
                f"MAFnet with film {self.film_location!r} has no FiLM in its audio path")
        audio, visual = audio.float(), visual.float()
        b, t = audio.shape[:2]
        visual_vec = visual.mean((-2, -1)) if visual.dim() == 5 else visual
        film = self.audio.film(visual_vec.flatten(0, 1))
        _, before, after = self.audio.block.modulate(audio.flatten(0, 1), film)
        return before.mean((-2, -1)).view(b, t, -1), after.mean((-2, -1)).view(b, t, -1)
