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

Lee et al.'s audio features (§3.2): "For VGGish, we extract the features into (N, 3, 128)
embeddings", N clips of 3 s by 3 examples by 128, VGGish "pretrained on AudioSet". These
are Google's embeddings: the same network on through pool4, fc1_1, fc1_2 and fc2 (128),
then Google's post-processor (PCA with whitening, clip to [-2, 2], 8-bit quantisation), on
vggish_input's examples: 0.96-s patches with a 0.96-s hop, so a 3-s clip gives 3.
"""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from avrepro.features.registry import WeightsError
from avrepro.features.weights import (
    frozen_network,
    load_state_dict_strict,
    read_state_dict,
    to_backbone_state_dict,
)
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


# --- Lee et al.'s features: VGGish's embeddings, post-processed as Google releases them ---

EMBEDDING_SIZE = 128  # fc2 (vggish_params.EMBEDDING_SIZE)
EXAMPLE_HOP_FRAMES = 96  # vggish_params.EXAMPLE_HOP_SECONDS = 0.96: examples do not overlap
EXAMPLE_SAMPLES = WINDOW_SAMPLES + (EXAMPLE_FRAMES - 1) * HOP_SAMPLES  # 15,600: one example
QUANTIZE_MIN, QUANTIZE_MAX = -2.0, 2.0  # vggish_params.QUANTIZE_MIN_VAL, QUANTIZE_MAX_VAL
PCA_NAME = "vggish_pca"  # the registry's entry for the PCA parameters
PCA_KEYS = ("pca_eigen_vectors", "pca_means")  # vggish_params' names, which torchvggish keeps
# torchvggish's `embeddings` is nn.Sequential(Linear, ReLU, Linear, ReLU, Linear, ReLU).
EMBEDDING_RENAMES = tuple(
    (rf"^embeddings\.{index}\.", f"{layer}.")
    for index, layer in ((0, "fc1_1"), (2, "fc1_2"), (4, "fc2"))
)
# torchvggish's PCA file holds, by all signs, the NumPy arrays of Google's
# vggish_pca_params.npz, pickled: its loader converts them with torch.as_tensor, and its
# issue #11 is still to "convert the pca state dict to torch". weights_only refuses NumPy
# unless allowed: these globals rebuild float arrays and nothing else; `numpy.core` is
# NumPy 1's name, in files pickled before NumPy 2, of `numpy._core`.
NUMPY_GLOBALS = [
    np._core.multiarray._reconstruct,
    (np._core.multiarray._reconstruct, "numpy.core.multiarray._reconstruct"),
    np.ndarray,
    np.dtype,
    np.dtypes.Float32DType,
    np.dtypes.Float64DType,
]


def waveform_examples(samples: np.ndarray) -> np.ndarray:
    """vggish_input.waveform_to_examples at 16 kHz: (n,) mono -> (k, 96, 64) float32.

    The log mel cut into 96-frame examples every 96 frames. An incomplete last example is
    dropped (mel_features.frame does not pad): a 3-s clip gives 3 examples, a 2.2-s clip 2,
    and one under 0.975 s (15,600 samples) none.
    """
    if len(samples) < EXAMPLE_SAMPLES:
        return np.zeros((0, EXAMPLE_FRAMES, MEL_BANDS), np.float32)
    spectrogram = log_mel(samples)  # (frames, 64)
    n_examples = 1 + (len(spectrogram) - EXAMPLE_FRAMES) // EXAMPLE_HOP_FRAMES
    starts = np.arange(n_examples) * EXAMPLE_HOP_FRAMES
    return spectrogram[starts[:, None] + np.arange(EXAMPLE_FRAMES)].astype(np.float32)


class VGGishEmbedder(nn.Module):
    """VGGish up to its embedding (vggish_slim.define_vggish_slim), with the TF layer names:

        VGGish's conv stack - pool4 - flatten (6 x 4 x 512 = 12288)
        - fc1_1 4096 - fc1_2 4096 - fc2 128            (each with ReLU)

    (N, 1, 96, 64) log mel -> (N, 128). The flatten is in TF's NHWC order (time, mel band,
    channel), as torchvggish transposes before it, so that the published fc1_1 weights meet
    the features in the order they were trained on.

    fc2's ReLU: slim's default activation, which vggish_slim applied to fc2 until
    tensorflow/models PR #9080 (August 2020) made the embedding pre-activation;
    torchvggish's port keeps it. Lee et al. (2019) extracted with the VGGish of their time.
    """

    def __init__(self):
        super().__init__()
        self.trunk = VGGish()
        self.pool4 = nn.MaxPool2d(2, stride=2)
        self.fc1_1 = nn.Linear(512 * 6 * 4, 4096)
        self.fc1_2 = nn.Linear(4096, 4096)
        self.fc2 = nn.Linear(4096, EMBEDDING_SIZE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool4(self.trunk(x))  # (N, 512, 6, 4)
        x = x.permute(0, 2, 3, 1).flatten(1)  # (N, 12288), NHWC order
        x = torch.relu(self.fc1_2(torch.relu(self.fc1_1(x))))  # (N, 4096)
        return torch.relu(self.fc2(x))  # (N, 128)


def embedder_state_dict(published: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvggish's file (the registry's "vggish", MAFnet's file too) on VGGishEmbedder's
    keys: the registry's renames for the conv stack, under `trunk.`, and embeddings.0/2/4 ->
    fc1_1/fc1_2/fc2, the layers the registry drops for the maps-only VGGish. Other keys
    pass through, for load_state_dict_strict to name."""
    trunk = to_backbone_state_dict(NAME, published)  # embeddings.* dropped
    state = {f"trunk.{key}": tensor for key, tensor in trunk.items()}
    for key, tensor in published.items():
        if key.startswith("embeddings."):
            for pattern, replacement in EMBEDDING_RENAMES:
                key = re.sub(pattern, replacement, key)
            state[key] = tensor
    return state


def build_embedder(weights: Path | None, seed: int = SEED) -> VGGishEmbedder:
    """A frozen VGGishEmbedder in eval mode: every layer from torchvggish's local file (never
    the network), or random weights drawn from `seed` (the smoke tier; the conv stack is
    then build_vggish's). Raises WeightsError naming a file that does not fit."""
    model = frozen_network(NAME, VGGishEmbedder, None, seed)
    if weights is not None:
        state_dict = embedder_state_dict(read_state_dict(weights))
        load_state_dict_strict(model, state_dict, source=f"weights file {weights}")
    return model


def load_pca(path: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """Google's PCA parameters: (eigen vectors (128, 128), means (128,)), float64.

    From torchvggish's local vggish_pca_params-970ea276.pth (the registry's "vggish_pca"),
    read without running code; without a file, the identity and zero means, which leave
    post-processing a clip and a quantisation (the smoke tier uses `standin_pca`).
    """
    if path is None:
        return np.eye(EMBEDDING_SIZE), np.zeros(EMBEDDING_SIZE)
    try:
        with torch.serialization.safe_globals(NUMPY_GLOBALS):
            loaded = torch.load(path, map_location="cpu", weights_only=True)
        matrix, means = (np.asarray(loaded[key], dtype=np.float64) for key in PCA_KEYS)
    except Exception as error:
        raise WeightsError(f"cannot read PCA parameters from {path}: {error!r}") from error
    if matrix.shape != (EMBEDDING_SIZE, EMBEDDING_SIZE) or means.size != EMBEDDING_SIZE:
        raise WeightsError(
            f"{path}: expected pca_eigen_vectors (128, 128) and 128 pca_means, got "
            f"{matrix.shape} and {means.shape}"
        )
    return matrix, means.reshape(EMBEDDING_SIZE)  # Google's file: (128,); torchvggish: (128, 1)


STANDIN_SECONDS = 30  # of seeded white noise, to calibrate the stand-in PCA


def standin_pca(model: nn.Module, device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """The smoke tier's stand-in for Google's PCA file, for a network with random weights.

    Google's parameters centre and whiten AudioSet embeddings so that the post-processor's
    [-2, 2] clip and 8-bit quantisation keep them; a random network's embeddings are a
    hundredth of that scale, and the identity would quantise every one of them to 127 or
    128 (no signal left for the SVMs). So the stand-in centres on the network's mean
    embedding of seeded white noise and divides by their overall standard deviation:
    fixed for a network, the same for every shard, and no data is looked at.
    """
    rng = np.random.default_rng(SEED)
    noise = [amplitude * rng.standard_normal(STANDIN_SECONDS * SAMPLE_RATE)
             for amplitude in (0.01, 0.1, 0.5)]
    examples = np.concatenate([waveform_examples(n) for n in noise])
    raw = clip_maps(model, examples, batch_size=64, device=device).astype(np.float64)
    return np.eye(EMBEDDING_SIZE) / max(raw.std(), 1e-12), raw.mean(axis=0)


def postprocess(
    embeddings: np.ndarray, pca_matrix: np.ndarray, pca_means: np.ndarray
) -> np.ndarray:
    """Google's post-processing (vggish_postprocess.Postprocessor): (n, 128) -> uint8 (n, 128).

    PCA with whitening, pca_matrix @ (embedding - pca_means); clipped to [-2, 2]; scaled to
    [0, 255] and cast to uint8, which truncates (Google's astype; torchvggish rounds).
    """
    pca_applied = (embeddings - pca_means) @ pca_matrix.T  # (n, 128)
    clipped = np.clip(pca_applied, QUANTIZE_MIN, QUANTIZE_MAX)
    return ((clipped - QUANTIZE_MIN) * (255.0 / (QUANTIZE_MAX - QUANTIZE_MIN))).astype(np.uint8)


def clip_examples(path: Path, n_examples: int) -> np.ndarray:
    """A 16-kHz WAV's first n_examples VGGish examples: (k <= n_examples, 96, 64) float32."""
    samples, rate = load_wav(path)
    if rate != SAMPLE_RATE:
        raise ValueError(f"{path}: VGGish needs {SAMPLE_RATE} Hz audio, the file has {rate}")
    return waveform_examples(samples.mean(axis=0))[:n_examples]


def embedding_shard_features(
    audio_dir: Path,
    weights: Path | None,
    pca_weights: Path | None,
    n_examples: int,
    batch_size: int,
    device: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Lee et al.'s VGGish features of every clip of an audio shard (the media stage's 16-kHz
    WAVs + index.csv): (clip_id (N,), features float32 (N, n_examples, 128), values 0..255).

    Each clip's first n_examples examples, embedded and post-processed. Lee et al. need
    exactly 3 per clip, which vggish_input does not promise (it drops an incomplete last
    example: a 2.2-s clip gives 2): a clip's missing examples are rows of zeros, as an
    (N, 3, 128) array of zeros filled with each clip's embeddings leaves them.
    """
    index = pd.read_csv(audio_dir / "index.csv")
    clip_ids = index.loc[index.audio_status == "ok", "clip_id"].to_numpy(dtype=str)
    model = build_embedder(weights)
    if pca_weights is None:
        pca_matrix, pca_means = standin_pca(model, device)
    else:
        pca_matrix, pca_means = load_pca(pca_weights)
    features = np.zeros((len(clip_ids), n_examples, EMBEDDING_SIZE), np.float32)
    clips_per_batch = max(1, batch_size // n_examples)  # a clip has at most n_examples
    starts = range(0, len(clip_ids), clips_per_batch)
    for start in tqdm(starts, desc=f"{NAME} embeddings", unit="batch"):
        batch = clip_ids[start : start + clips_per_batch]
        examples = [clip_examples(audio_dir / f"{clip_id}.wav", n_examples) for clip_id in batch]
        counts = [len(clip) for clip in examples]
        if not sum(counts):
            continue
        # clip_maps runs any network on log-mel patches in batches: here (k, 128) embeddings.
        raw = clip_maps(model, np.concatenate(examples), batch_size, device)
        embedded = postprocess(raw, pca_matrix, pca_means)
        for offset, rows in enumerate(np.split(embedded, np.cumsum(counts)[:-1])):
            features[start + offset, : len(rows)] = rows
    return clip_ids, features
