"""Inference cost of IMD (Table 6's GFLOPs column), counted by PyTorch's FlopCounterMode.

Conventions, since Table 6 mixes them:
- FlopCounterMode counts a multiply-add as 2 FLOPs. The video papers Table 6 copies
  (TimeSformer, Swin, ViViT, X-ViT) count with fvcore, where one multiply-add is one "flop"
  (a MAC). `Cost` gives both.
- One "view" is one clip of T frames at one spatial crop. The paper tests on 3 spatial crops
  x 4 temporal clips (§4.1), so its per-video cost reads as 12 views; TimeSformer's 590
  (0.59 TFLOPs) is its 196.7 G per view x 3 views (3 crops x 1 clip).
- IMDNet's forward reads AST's stored embedding, so the frozen AST is counted on its own:
  `video_gmacs` adds one AST pass per video to the network's 12 views, as our pipeline runs
  AST once over a clip's whole audio, whichever view looks at it.
Meta tensors carry shapes only, so a count of IMD-B or IMD-L takes about a second and no
memory.
"""

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from avrepro.models.ast import AST, ASTConfig
from avrepro.models.imd import CHANNELS, IMDConfig, IMDNet

CROPS, CLIPS = 3, 4  # §4.1: 3 spatial crops x 4 temporal clips
VIEWS = CROPS * CLIPS


@dataclass(frozen=True)
class Cost:
    flops_per_view: int  # FlopCounterMode's count (a multiply-add = 2)

    @property
    def gflops_per_view(self) -> float:
        return self.flops_per_view / 1e9

    @property
    def gmacs_per_view(self) -> float:
        return self.flops_per_view / 2e9

    def per_video(self, views: int = VIEWS, macs: bool = True) -> float:
        """G(MAC)s of a test video of `views` views; MACs is Table 6's (fvcore's) unit."""
        return (self.gmacs_per_view if macs else self.gflops_per_view) * views


def count_flops(model: nn.Module, inputs: dict[str, torch.Tensor]) -> int:
    """FLOPs of model(**inputs) in inference (no autograd), a multiply-add counted as 2."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(**inputs)
    return counter.get_total_flops()


def view_inputs(cfg: IMDConfig, batch: int = 1,
                device: str | torch.device = "meta") -> dict[str, torch.Tensor]:
    """One view's inputs for every modality of `cfg`: frames (B, T, C, H, W), audio (B, A)."""
    shapes = {m: (batch, cfg.frames, CHANNELS[m], cfg.image_size, cfg.image_size)
              for m in cfg.visual}
    if cfg.audio:
        shapes["audio"] = (batch, cfg.audio_dim)
    return {m: torch.zeros(shape, device=device) for m, shape in shapes.items()}


def model_cost(cfg: IMDConfig) -> Cost:
    """Cost of one view of the network `cfg` describes, counted on the meta device."""
    with torch.device("meta"):
        model = IMDNet(cfg).eval()
    return Cost(count_flops(model, view_inputs(cfg)))


def ast_cost(cfg: ASTConfig) -> Cost:
    """Cost of one AST pass over one clip's spectrogram (1, frames, n_mels)."""
    with torch.device("meta"):
        model = AST(cfg).eval()
    spectrogram = torch.zeros(1, cfg.frames, cfg.n_mels, device="meta")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(spectrogram)
    return Cost(counter.get_total_flops())


def video_gmacs(cfg: IMDConfig, ast: ASTConfig | None) -> float:
    """Table 6's GFLOPs of one test video, in its unit (fvcore's: GMACs): the network over
    the 3 x 4 views plus, where the run hears, one AST pass."""
    audio = ast_cost(ast).gmacs_per_view if ast is not None and cfg.audio else 0.0
    return model_cost(cfg).per_video() + audio
