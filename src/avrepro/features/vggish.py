"""MAFnet's audio features: VGGish conv4_2 maps of one-second windows (MAFnet §4.2).

"For each clip, we extract the output of the last convolutional layer of the network to
generate one 12 x 8 x 512 dimensional feature map." VGGish (Hershey et al., 2017) is a
VGG network on log-mel patches of 96 frames x 64 bands; its last convolution, conv4_2
(after its ReLU, before pool4), sees the patch at 1/8 of its resolution: 12 x 8 x 512.

Layout. Input (N, 1, 96, 64): height = time (10-ms frames), width = mel band, as in
VGGish's TensorFlow graph (NHWC [96, 64, 1]) and torchvggish. Output channels first,
(N, 512, 12, 8): 12 time steps of 80 ms by 8 groups of 8 mel bands.

Front end: VGGish's own log-mel (its mel_features.py and vggish_params.py): 16 kHz mono,
25-ms periodic-Hann frames every 10 ms, |FFT| over 512 bins, 64 mel bands 125-7500 Hz on
the HTK mel scale with triangles linear in mel, log(mel + 0.01), examples of 96 frames.

A "one-second window" -> one 96 x 64 patch: the authors' extractor cuts the waveform into
1-s pieces (16,000 samples), zero-pads a short last piece to 1 s, and keeps VGGish's first
0.96-s example of each: its 96 frames start at the piece's first sample (the piece's log
mel has 98 frames; the last 2 are dropped). Because the 10-ms hop divides 1 s exactly,
these are frames [100 t, 100 t + 96) of the log mel of the whole waveform, which is how we
compute them.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from avrepro.features.weights import frozen_network
from avrepro.media.audio import load_wav

NAME = "vggish"
SAMPLE_RATE = 16_000
WINDOW_SAMPLES = 400  # 25 ms
HOP_SAMPLES = 160  # 10 ms
FFT_LENGTH = 512  # the power of 2 above the window
MEL_BANDS, MEL_MIN_HZ, MEL_MAX_HZ = 64, 125.0, 7500.0
LOG_OFFSET = 0.01
EXAMPLE_FRAMES = 96  # 0.96 s
FRAMES_PER_SECOND = SAMPLE_RATE // HOP_SAMPLES  # 100
FEATURE_SHAPE = (512, 12, 8)  # conv4_2: (channels, time, mel)
SEED = 0  # random weights of the smoke tier: one network for every shard


def hertz_to_mel(hertz: np.ndarray) -> np.ndarray:
    """The HTK mel scale VGGish uses."""
    return 1127.0 * np.log1p(np.asarray(hertz) / 700.0)


def mel_matrix() -> np.ndarray:
    """(FFT_LENGTH // 2 + 1, MEL_BANDS) weights from |FFT| bins to mel bands.

    Band i is a triangle from edge i to edge i + 2 peaking at edge i + 1, the 66 edges
    evenly spaced in mel from 125 to 7500 Hz; the triangles are linear in mel (not in
    Hz, unlike librosa's), and the DC bin weighs nothing, as in VGGish's mel_features.
    """
    bins_mel = hertz_to_mel(np.linspace(0.0, SAMPLE_RATE / 2, FFT_LENGTH // 2 + 1))
    edges = np.linspace(hertz_to_mel(MEL_MIN_HZ), hertz_to_mel(MEL_MAX_HZ), MEL_BANDS + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]  # (MEL_BANDS,) each
    rising = (bins_mel[:, None] - lower) / (center - lower)
    falling = (upper - bins_mel[:, None]) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0] = 0.0
    return weights


def log_mel(samples: np.ndarray) -> np.ndarray:
    """(n,) mono 16-kHz samples in [-1, 1] -> (1 + (n - 400) // 160, 64) log mel."""
    if len(samples) < WINDOW_SAMPLES:
        raise ValueError(f"{len(samples)} samples: shorter than one 25-ms frame")
    n_frames = 1 + (len(samples) - WINDOW_SAMPLES) // HOP_SAMPLES
    starts = np.arange(n_frames)[:, None] * HOP_SAMPLES
    frames = samples[starts + np.arange(WINDOW_SAMPLES)]  # (frames, 400)
    periodic_hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW_SAMPLES) / WINDOW_SAMPLES)
    magnitude = np.abs(np.fft.rfft(frames * periodic_hann, n=FFT_LENGTH))  # (frames, 257)
    return np.log(magnitude @ mel_matrix() + LOG_OFFSET)


def window_examples(samples: np.ndarray, n_windows: int) -> np.ndarray:
    """One 96 x 64 log-mel patch per one-second window: (n_windows, 96, 64) float32.

    samples: (n,) mono at 16 kHz; zero-padded to n_windows seconds when shorter.
    """
    padded = np.zeros(n_windows * SAMPLE_RATE, dtype=np.float64)
    kept = samples[: len(padded)]
    padded[: len(kept)] = kept
    spectrogram = log_mel(padded)  # (100 n_windows - 2, 64)
    starts = np.arange(n_windows) * FRAMES_PER_SECOND
    return spectrogram[starts[:, None] + np.arange(EXAMPLE_FRAMES)].astype(np.float32)


def count_windows(n_samples: int, n_clips: int) -> int:
    """One-second windows of a track, at most n_clips: a partial last second is a window,
    zero-padded, as the authors' extractor pads its last piece."""
    return min(n_clips, max(1, -(-n_samples // SAMPLE_RATE)))


class VGGish(nn.Module):
    """VGGish up to conv4_2 (Hershey et al.; the TF model's layer names and sizes):

        conv1 64 - pool - conv2 128 - pool - conv3_1 256 - conv3_2 256 - pool
        - conv4_1 512 - conv4_2 512            (3x3 convolutions, stride 1, padding 1,
                                                 each with ReLU; 2x2 max pools, stride 2)

    (N, 1, 96, 64) log mel -> (N, 512, 12, 8). pool4 and the embedding layers
    (fc1_1, fc1_2, fc2) come after the maps MAFnet uses and are left out.
    """

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 64, 3, padding=1)
        self.conv2 = nn.Conv2d(64, 128, 3, padding=1)
        self.conv3_1 = nn.Conv2d(128, 256, 3, padding=1)
        self.conv3_2 = nn.Conv2d(256, 256, 3, padding=1)
        self.conv4_1 = nn.Conv2d(256, 512, 3, padding=1)
        self.conv4_2 = nn.Conv2d(512, 512, 3, padding=1)
        self.pool = nn.MaxPool2d(2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.conv1(x)))  # (N, 64, 48, 32)
        x = self.pool(torch.relu(self.conv2(x)))  # (N, 128, 24, 16)
        x = torch.relu(self.conv3_2(torch.relu(self.conv3_1(x))))
        x = self.pool(x)  # (N, 256, 12, 8)
        return torch.relu(self.conv4_2(torch.relu(self.conv4_1(x))))  # (N, 512, 12, 8)


def build_vggish(weights: Path | None, seed: int = SEED) -> VGGish:
    """A frozen VGGish in eval mode: weights from a local file (never the network), or
    random ones drawn from `seed`. Raises WeightsError naming a file that does not fit."""
    return frozen_network(NAME, VGGish, weights, seed)


def clip_maps(
    model: nn.Module, examples: np.ndarray, batch_size: int = 64, device: str | torch.device = "cpu"
) -> np.ndarray:
    """conv4_2 maps of log-mel patches: (n, 96, 64) -> float32 (n, 512, 12, 8)."""
    if examples.ndim != 3 or examples.shape[1:] != (EXAMPLE_FRAMES, MEL_BANDS):
        raise ValueError(f"expected log-mel patches (n, 96, 64), got {examples.shape}")
    model = model.to(device)
    maps = []
    with torch.inference_mode():
        for start in range(0, len(examples), batch_size):
            x = torch.from_numpy(examples[start : start + batch_size]).to(device)
            maps.append(model(x.unsqueeze(1)).float().cpu().numpy())
    return np.concatenate(maps)


def shard_features(
    audio_dir: Path, weights: Path | None, n_clips: int, batch_size: int, device: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maps of every clip of an audio shard (the media stage's 16-kHz WAVs + index.csv).

    Returns (clip_id (N,), features float16 (N, n_clips, 512, 12, 8), n_valid (N,));
    windows past a clip's n_valid are zeros (MAFnet zero-pads shorter videos). float16 as
    stored: each clip's maps are cast as they are written.
    """
    index = pd.read_csv(audio_dir / "index.csv")
    clip_ids = index.loc[index.audio_status == "ok", "clip_id"].to_numpy(dtype=str)
    model = build_vggish(weights)
    features = np.zeros((len(clip_ids), n_clips, *FEATURE_SHAPE), np.float16)
    n_valid = np.zeros(len(clip_ids), np.int64)
    for i, clip_id in enumerate(tqdm(clip_ids, desc=f"{NAME} maps", unit="clip")):
        path = audio_dir / f"{clip_id}.wav"
        samples, rate = load_wav(path)
        if rate != SAMPLE_RATE:
            raise ValueError(f"{path}: VGGish needs {SAMPLE_RATE} Hz audio, the file has {rate}")
        mono = samples.mean(axis=0)
        n_valid[i] = count_windows(len(mono), n_clips)
        examples = window_examples(mono, n_valid[i])
        features[i, : n_valid[i]] = clip_maps(model, examples, batch_size, device)
    return clip_ids, features, n_valid
