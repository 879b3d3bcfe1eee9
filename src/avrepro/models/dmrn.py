"""DMRN: Tian et al. (ECCV 2018, "Audio-visual event localization in unconstrained videos"),
MAFnet's Table 1 baseline "DMRN [19] (our feat.)" and, as its fusion block alone, the
"DMR" row of MAFnet's Table 2.

On MAFnet's features (per one-second window: VGGish conv4_2 maps 512x12x8, DenseNet-201
maps 1920x7x7) the network is Tian et al.'s, layer for layer:

  audio   : spatial average of the conv4_2 maps                          (B, T, 512)
  visual  : audio-guided visual attention over the 7x7 regions (§3.2)    (B, T, 1920)
  each    : one-layer bidirectional LSTM, 128 units a direction          (B, T, 256)
  fusion  : one dual multimodal residual block (§3.3)                    (B, T, 256)
  output  : a linear classifier per window, max-pooled over the windows  (B, n_classes)

Tian et al. feed VGGish's 128-d embeddings and VGG-19 pool5 maps (512x7x7); MAFnet's
"our feat." row swaps in its own features, so only the input widths change. Sizes not
in the ECCV paper come from the authors' released code (YapengTian/AVE-ECCV18):
LSTM hidden 128, attention hidden 512, attention width k = 49, one DMR block.
"""

import torch
from torch import nn


class DualMultimodalResidual(nn.Module):
    """One DMR block (Tian et al., §3.3): each modality is updated by a shared residual.

        merged = (U_a(h_a) + U_v(h_v)) / 2
        h_a' = tanh(h_a + merged),  h_v' = tanh(h_v + merged),  out = (h_a' + h_v') / 2

    U_a and U_v are Linear-tanh-Linear of the feature width (the released code's U_a, U_v).
    The released code adds `merged` to the other modality's residual; the average it
    returns is the same either way.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.u_audio = nn.Sequential(nn.Linear(dim, dim), nn.Tanh(), nn.Linear(dim, dim))
        self.u_visual = nn.Sequential(nn.Linear(dim, dim), nn.Tanh(), nn.Linear(dim, dim))

    def forward(self, audio: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        merged = 0.5 * (self.u_audio(audio) + self.u_visual(visual))
        return 0.5 * (torch.tanh(audio + merged) + torch.tanh(visual + merged))


class AudioGuidedAttention(nn.Module):
    """Weights over a window's spatial regions from the regions and the window's audio
    (Tian et al., §3.2, Eq. 1):

        alpha = softmax( w^T tanh( W_v U_v(v) + (W_a U_a(a)) 1^T ) ),  c = sum_r alpha_r v_r

    U_v, U_a: Linear + ReLU to `hidden`; W_v, W_a: `hidden` -> k without bias; w: k -> 1.
    The audio term is broadcast over the regions, as the equation's 1^T says (the released
    code broadcasts it along the k axis instead).
    """

    def __init__(self, visual_dim: int, audio_dim: int, hidden: int = 512, k: int = 49):
        super().__init__()
        self.u_visual = nn.Linear(visual_dim, hidden)
        self.u_audio = nn.Linear(audio_dim, hidden)
        self.w_visual = nn.Linear(hidden, k, bias=False)
        self.w_audio = nn.Linear(hidden, k, bias=False)
        self.w = nn.Linear(k, 1, bias=False)

    def forward(self, regions: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        # regions (B, T, R, Dv), audio (B, T, Da)
        v = self.w_visual(torch.relu(self.u_visual(regions)))  # (B, T, R, k)
        a = self.w_audio(torch.relu(self.u_audio(audio)))  # (B, T, k)
        alpha = torch.softmax(self.w(torch.tanh(v + a.unsqueeze(2))).squeeze(-1), dim=-1)
        return (alpha.unsqueeze(-1) * regions).sum(2)  # (B, T, Dv)


class DMRN(nn.Module):
    """audio (B, T, Da[, H, W]), visual (B, T, Dv, H, W) -> (B, n_classes) logits.

    Tian et al. label every window (supervised localisation); MAFnet's datasets label the
    video. Tian et al.'s own video-label setting (their weakly-supervised model) scores
    each window and max-pools the scores over time (multiple-instance learning); we do
    the same.
    """

    needs_maps = {"audio": False, "visual": True}  # attention looks at the visual regions

    def __init__(
        self,
        n_classes: int,
        visual_dim: int = 1920,
        audio_dim: int = 512,
        lstm_hidden: int = 128,
        attention_hidden: int = 512,
    ):
        super().__init__()
        self.attention = AudioGuidedAttention(visual_dim, audio_dim, attention_hidden)
        self.lstm_audio = nn.LSTM(audio_dim, lstm_hidden, batch_first=True, bidirectional=True)
        self.lstm_visual = nn.LSTM(visual_dim, lstm_hidden, batch_first=True, bidirectional=True)
        self.dmr = DualMultimodalResidual(2 * lstm_hidden)
        self.head = nn.Linear(2 * lstm_hidden, n_classes)

    def forward(self, audio: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        audio, visual = audio.float(), visual.float()  # stores may hold float16
        if audio.dim() == 5:
            audio = audio.mean((-2, -1))  # (B, T, Da)
        if visual.dim() != 5:
            raise ValueError(
                f"DMRN needs visual feature maps (B, T, C, H, W), got {tuple(visual.shape)}")
        regions = visual.flatten(3).transpose(2, 3)  # (B, T, H*W, Dv)
        attended = self.attention(regions, audio)  # (B, T, Dv)
        h_audio, _ = self.lstm_audio(audio)  # (B, T, 2 * lstm_hidden)
        h_visual, _ = self.lstm_visual(attended)  # (B, T, 2 * lstm_hidden)
        scores = self.head(self.dmr(h_audio, h_visual))  # (B, T, n_classes)
        return scores.max(dim=1).values  # (B, n_classes)
