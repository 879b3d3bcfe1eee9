"""MAiVAR's classifiers (Shaikh et al., 2024, §3.4-3.6, §4.2, Algorithm 1).

Phase 1 trains two unimodal MLPs on frozen features:
  audio MLP  : IRV2 average-pool features of one audio image   (B, 1536)
  video MLP  : TSN BN-Inception features of 25 segments         (B, 25, 1024)
Phase 2 trains the dominant head fusion (DHF) network on the concatenation of
both, initialised from the trained video MLP (Algorithm 1: omega^0 <- nu^N).

Every network has one hidden layer of 1024 units with ReLU ("the number of
neurons in the hidden layer for MFN block was 1024"; "all hidden layers, except
the last fully connected layer, are equipped with ReLU").
"""

import torch
from torch import nn


class MLP(nn.Module):
    """in_dim -> hidden (ReLU) -> n_classes. Inputs of any trailing shape are flattened.

    The video MLP sees the 25 segment features flattened in temporal order
    (25 * 1024 = 25600 inputs): the paper removes TSN's average consensus so
    that the classifier, not a fixed average, combines the segments.
    """

    def __init__(self, in_dim: int, n_classes: int, hidden: int = 1024):
        super().__init__()
        self.hidden = nn.Linear(in_dim, hidden)
        self.head = nn.Linear(hidden, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.hidden(x.flatten(1)))  # (B, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))  # (B, n_classes)


class DominantHeadFusion(nn.Module):
    """Concatenate audio and video features, one hidden layer, classify (§3.6, Eq. 2).

    Input order is [audio, video], as x (audio) and z (video) in Eq. 2.
    """

    def __init__(self, audio_dim: int, video_dim: int, n_classes: int, hidden: int = 1024):
        super().__init__()
        self.audio_dim, self.video_dim = audio_dim, video_dim
        self.hidden = nn.Linear(audio_dim + video_dim, hidden)
        self.head = nn.Linear(hidden, n_classes)

    def embed(self, audio: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
        x = torch.cat([audio.flatten(1), video.flatten(1)], dim=1)  # (B, audio_dim + video_dim)
        return torch.relu(self.hidden(x))  # (B, hidden)

    def forward(self, audio: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(audio, video))  # (B, n_classes)

    @torch.no_grad()
    def init_from_video_mlp(self, video_mlp: MLP) -> None:
        """Algorithm 1: inject the trained video MLP's weights into the fusion network.

        The video columns of the hidden layer, its bias and the output layer are
        copied; the audio columns start at zero. The paper does not say how the
        audio inputs are initialised; zeros make the fusion network compute
        exactly the trained video MLP at step 0, which is what "weights from
        VMLP directly injected ... for quicker convergence" asks for, while the
        gradient on those columns (delta * audio) is non-zero so audio is learnt.
        """
        if video_mlp.hidden.in_features != self.video_dim:
            raise ValueError(
                f"video MLP takes {video_mlp.hidden.in_features} inputs, "
                f"fusion expects {self.video_dim} video inputs"
            )
        self.hidden.weight.zero_()
        self.hidden.weight[:, self.audio_dim :] = video_mlp.hidden.weight
        self.hidden.bias.copy_(video_mlp.hidden.bias)
        self.head.load_state_dict(video_mlp.head.state_dict())


def l1_penalty(model: nn.Module) -> torch.Tensor:
    """Sum of absolute weights (not biases): the l1 regulariser of the fusion loss (§3.6)."""
    return sum(p.abs().sum() for name, p in model.named_parameters() if name.endswith("weight"))
