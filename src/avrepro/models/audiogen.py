"""Lee et al.'s sound-feature generators (§2, Fig. 2): a video's per-frame RGB and optical
flow features in, a simulated sound feature out, with an optional action classifier
(multi-task: L = L_cls + L_recon, §2.1).

Input: TSN's per-frame features (§3.2), frames past a clip's n_valid are padding
  rgb, flow                 v_r,t, v_f,t                          (B, T, 1024) each
  fused                     v_c,t = v_r,t ⊕ v_f,t                 (B, T, 2048)
LSTM generator (§2.1, Eqs. 2-4):
  x = the LSTM's hidden state at each clip's last valid step     (B, hidden)
  logits = W_p x + b_p   (Eq. 3, softmax in the loss)            (B, n_classes)
  r = W_r x + b_r        (Eq. 4)                                 (B, d_r)
Autoencoder generator (§2.2, Eqs. 5-6):
  l = encoder(v_c,t) of ONE frame t (random in training)         (B, latent)
  logits = W_p l + b_p,  x = decoder(l),  r = W_r x + b_r        (B, n_classes), (B, d_r)
d_r is the sound feature's size: 1024 for AENet, 384 for VGGish's (3, 128) flattened (§3.2).

How r is scored against the real feature and turned back into a feature (the paper names
"L2 loss and KL-divergence loss", nothing more) is `SoundTarget`'s. Sizes the paper does
not print are the constants below, each with its reason.
"""

import torch
from torch import nn

LOSSES = ("l2", "kl")
# The LSTM's state: 1024 units, one layer. The state x feeds both heads; 1024 is the
# larger sound feature's size (AENet's), so x is no bottleneck narrower than what it
# reconstructs, and one layer is the paper's Eq. 2 (one LSTM over the frames).
LSTM_HIDDEN, LSTM_LAYERS = 1024, 1
# The autoencoder's widths: 2048 -> 1024 -> latent 512 (encoder), 512 -> 1024 (decoder),
# halving towards the bottleneck as usual; the latent is smaller than AENet's 1024, so
# the encoder must compress (what makes it an autoencoder rather than an MLP).
AE_HIDDEN, AE_LATENT = 1024, 512
# Dropout on the input frame features, as a denoising autoencoder corrupts its input
# (Vincent et al. 2008); 0.5 is milder than the 0.7-0.8 TSN applies to these same
# features before its classifier (Wang et al. §4.1), since here they must also carry
# the detail a regression needs.
DROPOUT = 0.5
# Floor of the l2 standardisation's std: a constant dimension (VGGish's quantised PCA
# output can have one) is then centred, not divided by zero.
STD_FLOOR = 1e-6


def fuse(rgb: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """v_c,t = v_r,t ⊕ v_f,t (Eq. 2), in float32 (stores keep float16)."""
    return torch.cat([rgb.float(), flow.float()], dim=-1)  # (B, T, 2048)


def valid_mask(n_valid: torch.Tensor, length: int) -> torch.Tensor:
    """(B, T) True where frame t < n_valid of its clip."""
    return torch.arange(length, device=n_valid.device)[None, :] < n_valid[:, None]


class SoundTarget(nn.Module):
    """How a head's output r (B, d_r) meets the real sound feature (B, d_r), both ways.

    l2: r is in standardised units. L_recon = mean squared error against
        (feature - mean) / std; the generated feature is r * std + mean. Standardising
        (mean, std per dimension over the training clips) puts L_recon near 1 at the
        start, like L_cls near log(n_classes), for AENet (unit-norm rows) and VGGish
        (0..255 bytes) alike, so "L = L_cls + L_recon" weighs the tasks evenly whatever
        the feature, and the head needs no hundreds of Adam steps to reach VGGish's scale.
        The map back is affine, so the SVM gets the feature in its own scale.
    kl: a sound feature is non-negative (AENet's are ReLU outputs, L2-normalised in the
        authors' extractor, znaoya/aenet aenet.py; VGGish's are bytes), so it is read as
        a distribution over its d_r dimensions, feature / sum(feature), and
        L_recon = KL(feature || softmax(r)), the direction that makes r fit the real
        feature (as a KL loss against soft targets does). A distribution has lost the
        feature's scale: the generated feature is softmax(r) * total, total the training
        features' mean sum, so the SVM, trained on real features too, sees it in the real
        scale. (Softmax of the feature itself was the alternative; on VGGish's 0..255
        values it is nearly one-hot, keeping one dimension of 384.)

    The statistics are buffers set by `fit` from the training clips' features and saved
    in the model's state_dict with its weights.
    """

    def __init__(self, loss: str, dim: int):
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"reconstruction loss {loss!r} is not one of {LOSSES}")
        self.kind = loss
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))
        self.register_buffer("total", torch.ones(()))

    def fit(self, features: torch.Tensor) -> "SoundTarget":
        """Set the statistics from the training clips' real features (N, d_r)."""
        features = features.float()
        if self.kind == "kl" and (features < 0).any():
            raise ValueError(f"the KL reconstruction loss reads sound features as "
                             f"distributions and needs them non-negative; min is "
                             f"{features.min().item():.4g}")
        self.mean.copy_(features.mean(0))
        self.std.copy_(features.std(0, correction=0).clamp_min(STD_FLOOR))
        self.total.copy_(features.sum(1).mean())
        return self

    def loss(self, r: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """L_recon of head outputs r (B, d_r) against real features (B, d_r), batch mean."""
        features = features.float()
        if self.kind == "l2":
            return nn.functional.mse_loss(r, (features - self.mean) / self.std)
        p = features / features.sum(1, keepdim=True).clamp_min(torch.finfo(r.dtype).tiny)
        return nn.functional.kl_div(torch.log_softmax(r, dim=1), p, reduction="batchmean")

    def feature(self, r: torch.Tensor) -> torch.Tensor:
        """The sound feature (B, d_r), in the real feature's scale, of head outputs r."""
        if self.kind == "l2":
            return r * self.std + self.mean
        return torch.softmax(r, dim=1) * self.total


class SoundGenerator(nn.Module):
    """What both generators share: the heads W_p (absent without the classification
    branch) and W_r, the SoundTarget, and `sound`, a clip's generated feature.

    forward(rgb, flow, n_valid, generator) -> (logits (B, n_classes) or None, r (B, d_r));
    `generator` draws the training-time random choices (loop.fit's per-epoch generator,
    so a resumed run replays them).
    """

    def __init__(self, x_dim: int, head_dim: int, sound_dim: int, n_classes: int | None,
                 loss: str):
        super().__init__()
        self.classifier = nn.Linear(head_dim, n_classes) if n_classes else None  # W_p
        self.reconstruct = nn.Linear(x_dim, sound_dim)  # W_r
        self.target = SoundTarget(loss, sound_dim)

    def classify(self, h: torch.Tensor) -> torch.Tensor | None:
        return self.classifier(h) if self.classifier is not None else None

    @torch.no_grad()
    def sound(self, rgb: torch.Tensor, flow: torch.Tensor, n_valid: torch.Tensor) -> torch.Tensor:
        """The generated sound feature (B, d_r) of clips: the test-time forward (it sets
        eval mode) mapped back to the feature's scale."""
        self.eval()
        _, r = self(rgb, flow, n_valid)
        return self.target.feature(r)


class LSTMGenerator(SoundGenerator):
    """§2.1: an LSTM over the fused frames; its last hidden state x feeds both heads."""

    def __init__(self, in_dim: int, sound_dim: int, n_classes: int | None, loss: str,
                 hidden: int = LSTM_HIDDEN, layers: int = LSTM_LAYERS,
                 dropout: float = DROPOUT):
        super().__init__(hidden, hidden, sound_dim, n_classes, loss)
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(in_dim, hidden, num_layers=layers, batch_first=True,
                            dropout=dropout if layers > 1 else 0.0)

    def forward(self, rgb, flow, n_valid, generator=None):
        """`generator` is unused: the LSTM reads every frame, there is nothing to draw."""
        out, _ = self.lstm(self.dropout(fuse(rgb, flow)))  # (B, T, hidden)
        # "x is the last hidden state" (Eq. 2) of each clip's own sequence. The LSTM is
        # causal, so its output at step n_valid - 1 is what packing the sequences would
        # give; taking it there skips packing's sort and its lengths on the CPU.
        x = out[torch.arange(len(out), device=out.device), n_valid.long() - 1]  # (B, hidden)
        return self.classify(x), self.reconstruct(x)


def random_frames(n_valid: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One uniformly drawn valid frame index per clip (B,), from `generator` (on the CPU,
    so that the draw is the same on every device)."""
    u = torch.rand(len(n_valid), generator=generator)
    return (u * n_valid.cpu()).long().clamp_max(n_valid.cpu() - 1).to(n_valid.device)


class AEGenerator(SoundGenerator):
    """§2.2: an autoencoder on one frame's fused feature; its latent l feeds W_p, its
    decoder's output x feeds W_r.

    Training: "the encoder takes a random frame of video sequence" (§2.2), drawn from
    the step's generator. Test time (the paper is silent): every valid frame is encoded
    and the heads' outputs are averaged over them, as TSN's consensus averages its
    frames' class scores (Wang et al. §3.1, 25 frames at test). It uses the whole clip,
    as the LSTM does, so that Tables 2-3 compare the architectures rather than how much
    of a clip each sees; one frame (the middle one) would throw most of the clip away.
    Averaging r (before SoundTarget.feature) averages l2 features exactly and, for kl,
    averages scores before the softmax, as TSN does.
    """

    def __init__(self, in_dim: int, sound_dim: int, n_classes: int | None, loss: str,
                 hidden: int = AE_HIDDEN, latent: int = AE_LATENT, dropout: float = DROPOUT):
        super().__init__(hidden, latent, sound_dim, n_classes, loss)
        self.dropout = nn.Dropout(dropout)
        self.encoder = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(),
                                     nn.Linear(hidden, latent))
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU())

    def heads(self, v: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """(logits, r) of fused frame features v (M, 2048)."""
        latent = self.encoder(self.dropout(v))  # (M, latent)
        return self.classify(latent), self.reconstruct(self.decoder(latent))

    def forward(self, rgb, flow, n_valid, generator=None):
        v = fuse(rgb, flow)  # (B, T, 2048)
        batch, length = v.shape[:2]
        if self.training:
            t = random_frames(n_valid, generator)  # (B,)
            return self.heads(v[torch.arange(batch, device=v.device), t])
        logits, r = self.heads(v.reshape(batch * length, -1))  # (B T, n_classes), (B T, d_r)
        weights = valid_mask(n_valid, length).float()
        weights = (weights / weights.sum(1, keepdim=True)).reshape(batch, length, 1)

        def average(y):  # (B T, k) -> (B, k), over each clip's valid frames
            return (y.reshape(batch, length, -1) * weights).sum(1)

        return (average(logits) if logits is not None else None), average(r)
