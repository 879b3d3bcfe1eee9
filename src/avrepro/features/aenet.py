"""Lee et al.'s AENet features (§3.2): "the dimensions of extracted features are (N, 1024),
where N equals to the total length in seconds", from 16-kHz mono 16-bit PCM WAVs.

AENet (Takahashi, Gygli & Van Gool, IEEE TMM 2018) is ported from its authors' release,
github.com/znaoya/aenet (aenet/__init__.py, Theano/Lasagne, Python 2), whose extractor
`AENet.feat_extract(wavs, shift=100)` (as run_sample.py calls it) does:
1. HTK's HCopy with configmfb.hcopy: per 10-ms frame, 50 log filterbank channels, their
   deltas and accelerations (FBANK_D_A, 150 values; `feat_shape = [3, 200, 50]`);
2. each value normalised with the released gmean.npy / gstd.npy (150 values each);
3. a sequence shorter than 200 frames doubled until it is not ("repeat signal");
4. patches of 200 frames (2 s) every `shift` = 100 frames (1 s), whole ones only, laid out
   (3, 200, 50): static / delta / acceleration x frame x channel;
5. the network up to fc6 (after its ReLU): one 1024-d feature per patch, each divided by
   its L2 norm.
One feature per second of hop, then: N = (frames - 200) // 100 + 1, which is what the
release's reference output shows (wav/airplane_2.wav, 11.7 s -> feat/airplane_2.npy, 10
unit-norm, non-negative rows). For a 3-s Moments in Time clip (298 frames) that is ONE
patch, the clip's first 2 s: Lee et al.'s "N equals the total length in seconds" is loose
(it is seconds - 1 for whole seconds); we follow the extractor, which is what they ran.

HCopy is reproduced in numpy from HTK 3.4's HSigP.c and HParm.c: samples at their 16-bit
integer scale (HTK reads the PCM values as they are), frames of 400 samples every 160 (only
whole ones), each frame pre-emphasised on its own (s[i] -= 0.97 s[i-1], s[0] *= 0.03),
a symmetric Hamming window, |FFT| over 512 bins (magnitude: USEPOWER is off), 50
triangular channels linear in the HTK mel scale from 0 Hz to 8 kHz, the natural log
floored at log(1.0), and HTK's regression deltas over +-2 frames (ends repeated),
accelerations the deltas of the deltas.

Approximations and what could not be checked:
- configmfb.hcopy lies only on the authors' server, which this port could not reach. The
  release's code fixes 50 channels, the 10-ms rate and the FBANK_D_A order; the 25-ms
  window (WINDOWSIZE = 250000, the HTK book's value; HTK's default would be 25.6 ms),
  pre-emphasis 0.97, Hamming, magnitude, the full 0-8 kHz band, DELTAWINDOW = ACCWINDOW = 2
  and no ZMEANSOURCE are HTK's defaults or common practice, assumed here.
- HTK computes in float32, we in float64: values differ in the 6th-7th significant digit.
- Lasagne's Conv2DLayer (flip_filters=True, the release's setting) convolves for real: its
  kernels are flipped to serve PyTorch's cross-correlation (`read_released_weights`).
- A waveform shorter than one 25-ms frame gives HCopy no frame and the release an endless
  loop; we zero-pad it to one second. A patch whose fc6 is all zeros stays zeros (the
  release divides by its zero norm).
"""

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from numpy._core.multiarray import _reconstruct, scalar
from torch import nn
from tqdm import tqdm

from avrepro.features.registry import WeightsError
from avrepro.features.vggish import hertz_to_mel
from avrepro.features.weights import frozen_network, load_state_dict_strict
from avrepro.media.audio import load_wav

NAME = "aenet"
SAMPLE_RATE = 16_000
INT16_SCALE = 32_768  # HTK sees the PCM integers; load_wav divides them by this
WINDOW_SAMPLES = 400  # 25 ms
HOP_SAMPLES = 160  # 10 ms
FFT_LENGTH = 512  # HTK: the power of 2 above the window
PREEMPHASIS = 0.97
MEL_BANDS = 50
LOG_FLOOR = 1.0  # HTK's melfloor, on the integer scale
REGRESSION_WINDOW = 2  # DELTAWINDOW = ACCWINDOW
STREAMS = 3  # static, delta, acceleration
FRAME_DIM = STREAMS * MEL_BANDS  # 150, an HTK FBANK_D_A vector
PATCH_FRAMES = 200  # 2 s
PATCH_HOP_FRAMES = 100  # 1 s: feat_extract's shift
FEATURE_DIM = 1024  # fc6
# The released weights file and the two files its extractor expects beside it.
MEAN_FILE, STD_FILE = "gmean.npy", "gstd.npy"
# Lasagne's parameter order (get_all_params): W and b of each layer, input to output.
LASAGNE_LAYERS = ("conv1a", "conv1b", "conv2a", "conv2b", "fc5", "fc6", "prob")
HEAD_LAYER = "prob"  # the 41-way audio-event softmax after fc6: not built
SEED = 0  # random weights of the smoke tier: one network for every shard


def filterbank_matrix() -> np.ndarray:
    """(FFT_LENGTH // 2 + 1, MEL_BANDS) weights from |FFT| bins to HTK's channels.

    HSigP.c InitFBank without LOFREQ/HIFREQ: 52 points evenly spaced in mel from 0 Hz to
    8 kHz; channel j rises linearly in mel from point j to point j + 1 and falls to point
    j + 2, so neighbouring channels share each bin's magnitude (weights sum to 1 between
    the first and last centre). HTK fills channels from bins 1..255 only: DC and Nyquist
    weigh nothing. Unnormalised: a bin on a centre weighs 1.
    """
    bins_mel = hertz_to_mel(np.arange(FFT_LENGTH // 2 + 1) * SAMPLE_RATE / FFT_LENGTH)
    edges = np.linspace(0.0, hertz_to_mel(SAMPLE_RATE / 2), MEL_BANDS + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]  # (MEL_BANDS,) each
    rising = (bins_mel[:, None] - lower) / (center - lower)
    falling = (upper - bins_mel[:, None]) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[[0, -1]] = 0.0
    return weights


def log_filterbank(samples: np.ndarray) -> np.ndarray:
    """(n,) mono 16-kHz samples in [-1, 1] -> (1 + (n - 400) // 160, 50) HTK FBANK."""
    if len(samples) < WINDOW_SAMPLES:
        raise ValueError(f"{len(samples)} samples: shorter than one 25-ms frame")
    n_frames = 1 + (len(samples) - WINDOW_SAMPLES) // HOP_SAMPLES
    starts = np.arange(n_frames)[:, None] * HOP_SAMPLES
    scaled = np.asarray(samples, dtype=np.float64) * INT16_SCALE
    frames = scaled[starts + np.arange(WINDOW_SAMPLES)]  # (frames, 400)
    # HTK pre-emphasises each frame by itself (HSigP.c PreEmphasise), not the signal.
    emphasised = frames.copy()
    emphasised[:, 1:] -= PREEMPHASIS * frames[:, :-1]
    emphasised[:, 0] *= 1.0 - PREEMPHASIS
    spectrum = np.fft.rfft(emphasised * np.hamming(WINDOW_SAMPLES), n=FFT_LENGTH)
    magnitude = np.abs(spectrum)  # (frames, 257)
    return np.log(np.maximum(magnitude @ filterbank_matrix(), LOG_FLOOR))


def regression(features: np.ndarray, window: int = REGRESSION_WINDOW) -> np.ndarray:
    """HTK's deltas of a (frames, d) sequence (HSigP.c Regress, SIMPLEDIFFS off):
    d_t = sum_k k (c_{t+k} - c_{t-k}) / (2 sum_k k^2), k = 1..window, with the first and
    last frames repeated past the ends of the file."""
    n = len(features)
    padded = np.pad(features, ((window, window), (0, 0)), mode="edge")
    differences = [
        k * (padded[window + k : window + k + n] - padded[window - k : window - k + n])
        for k in range(1, window + 1)
    ]
    return np.sum(differences, axis=0) / (2 * sum(k * k for k in range(1, window + 1)))


def htk_features(samples: np.ndarray) -> np.ndarray:
    """What HCopy writes for a waveform: (frames, 150) = [50 log channels, their deltas,
    their accelerations] per 10-ms frame, in HTK's vector order."""
    static = log_filterbank(samples)  # (frames, 50)
    delta = regression(static)
    return np.concatenate([static, delta, regression(delta)], axis=1)


def patches(frames: np.ndarray) -> np.ndarray:
    """AENet's input patches of an HTK sequence (the release's get_feat_sequence):
    (frames, 150) -> (n, 3, 200, 50) float32, n = (frames - 200) // 100 + 1.

    Not normalised: the network holds the release's mean and deviation. A sequence
    shorter than a patch is doubled until it is not, as the release repeats it.
    """
    if len(frames) == 0:
        raise ValueError("no frames to cut patches from")
    while len(frames) < PATCH_FRAMES:
        frames = np.concatenate([frames, frames])
    n = (len(frames) - PATCH_FRAMES) // PATCH_HOP_FRAMES + 1
    starts = np.arange(n)[:, None] * PATCH_HOP_FRAMES
    cut = frames[starts + np.arange(PATCH_FRAMES)]  # (n, 200, 150)
    cut = cut.reshape(n, PATCH_FRAMES, STREAMS, MEL_BANDS).transpose(0, 2, 1, 3)
    return np.ascontiguousarray(cut, dtype=np.float32)  # (n, 3, 200, 50)


class AENet(nn.Module):
    """AENet up to fc6 (the release's build_model; its layer names and sizes):

        conv1a 64 - conv1b 64 - pool (1, 2) - conv2a 128 - conv2b 128 - pool (2, 2)
        - fc5 1024 - fc6 1024          (3x3 convolutions, stride 1, no padding, and the
                                        dense layers, each with ReLU; pools drop odd ends)

    (N, 3, 200, 50) patches as `patches` cuts them -> (N, 1024) fc6 after its ReLU, "the
    AENet feature". `mean` and `std` (150,) are the release's gmean.npy and gstd.npy in
    HTK's vector order: the release normalises frames before cutting patches, the same
    per value. `prob`, the 41-way audio-event softmax, comes after fc6 and is left out.

    patch_frames: the released weights need 200 (fc5 sees 128 x 96 x 9); tests build
    smaller networks.
    """

    def __init__(self, patch_frames: int = PATCH_FRAMES):
        super().__init__()
        self.register_buffer("mean", torch.zeros(FRAME_DIM))
        self.register_buffer("std", torch.ones(FRAME_DIM))
        self.conv1a = nn.Conv2d(STREAMS, 64, 3)
        self.conv1b = nn.Conv2d(64, 64, 3)
        self.pool1 = nn.MaxPool2d((1, 2))
        self.conv2a = nn.Conv2d(64, 128, 3)
        self.conv2b = nn.Conv2d(128, 128, 3)
        self.pool2 = nn.MaxPool2d(2)
        # Each 3x3 convolution takes 2 off time and frequency; pool1 halves frequency only.
        pooled = ((patch_frames - 8) // 2, ((MEL_BANDS - 4) // 2 - 4) // 2)  # (96, 9)
        self.fc5 = nn.Linear(128 * pooled[0] * pooled[1], FEATURE_DIM)
        self.fc6 = nn.Linear(FEATURE_DIM, FEATURE_DIM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean.view(STREAMS, 1, MEL_BANDS)) / self.std.view(STREAMS, 1, MEL_BANDS)
        x = torch.relu(self.conv1b(torch.relu(self.conv1a(x))))  # (N, 64, 196, 46)
        x = self.pool1(x)  # (N, 64, 196, 23)
        x = torch.relu(self.conv2b(torch.relu(self.conv2a(x))))  # (N, 128, 192, 19)
        x = self.pool2(x).flatten(1)  # (N, 128 * 96 * 9)
        return torch.relu(self.fc6(torch.relu(self.fc5(x))))  # (N, 1024)


# The globals a pickle of NumPy arrays (and scalars, should the file hold any) names:
# Python 2's numpy.core, NumPy 2's numpy._core.
_PICKLE_GLOBALS = {
    **{(f"numpy.{core}.multiarray", "_reconstruct"): _reconstruct for core in ("core", "_core")},
    **{(f"numpy.{core}.multiarray", "scalar"): scalar for core in ("core", "_core")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles NumPy arrays and plain containers only: a weights file must not be able to
    run code when read."""

    def find_class(self, module: str, name: str):
        try:
            return _PICKLE_GLOBALS[module, name]
        except KeyError:
            message = f"{module}.{name} has no place in a weights file"
            raise pickle.UnpicklingError(message) from None


def _lasagne_params(path: Path) -> list[np.ndarray]:
    """The `param_values` list of the release's model.pkl (a Python 2 pickle, whose byte
    strings are read as latin-1, NumPy's convention for them)."""
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist")
    try:
        with path.open("rb") as file:
            loaded = _ArrayUnpickler(file, encoding="latin1").load()
    except Exception as error:
        raise WeightsError(f"cannot read weights file {path}: {error}") from error
    params = loaded.get("param_values") if isinstance(loaded, dict) else None
    if not isinstance(params, list) or not all(isinstance(p, np.ndarray) for p in params):
        raise WeightsError(f"{path} holds no Lasagne 'param_values' list of arrays")
    if len(params) != 2 * len(LASAGNE_LAYERS):
        raise WeightsError(
            f"{path} holds {len(params)} arrays; AENet's are the W and b of "
            f"{', '.join(LASAGNE_LAYERS)} ({2 * len(LASAGNE_LAYERS)})"
        )
    return params


def _normalisation(path: Path) -> torch.Tensor:
    if not path.is_file():
        raise WeightsError(
            f"AENet's input normalisation {path} is missing: the release's extractor keeps "
            f"{MEAN_FILE} and {STD_FILE} beside model.pkl (the workflow downloads them there)"
        )
    try:
        values = np.load(path, allow_pickle=False)
    except Exception as error:
        raise WeightsError(f"cannot read {path}: {error}") from error
    if values.shape != (FRAME_DIM,):
        raise WeightsError(f"{path} holds shape {values.shape}, expected ({FRAME_DIM},)")
    return torch.from_numpy(values.astype(np.float32))


def read_released_weights(path: Path) -> dict[str, torch.Tensor]:
    """The release's model.pkl, with gmean.npy and gstd.npy beside it, as AENet's state
    dict; `torch.save` it to get a .pth that `build_aenet` loads alone.

    Lasagne stores a convolution's W as (out, in, h, w) for a true convolution (the
    release's Conv2DLayer keeps flip_filters=True): flipped in h and w, it is PyTorch's
    cross-correlation kernel. A dense W is (in, out): PyTorch's weight transposed. fc5's
    input is Lasagne's flattening of (128, 96, 9) in C order, as torch.flatten's.
    """
    path = Path(path)
    params = _lasagne_params(path)
    state_dict = {
        "mean": _normalisation(path.with_name(MEAN_FILE)),
        "std": _normalisation(path.with_name(STD_FILE)),
    }
    for i, layer in enumerate(LASAGNE_LAYERS):
        if layer == HEAD_LAYER:
            continue
        weight, bias = params[2 * i], params[2 * i + 1]
        convolution = layer.startswith("conv")
        if weight.ndim != (4 if convolution else 2):
            raise WeightsError(f"{path}: the W of {layer} has the shape {weight.shape}")
        weight = np.flip(weight, axis=(2, 3)) if convolution else weight.T
        # copy(): torch takes no flipped (negative-stride) view.
        state_dict[f"{layer}.weight"] = torch.tensor(weight.copy(), dtype=torch.float32)
        state_dict[f"{layer}.bias"] = torch.tensor(bias, dtype=torch.float32)
    return state_dict


def build_aenet(weights: Path | None, seed: int = SEED) -> AENet:
    """A frozen AENet in eval mode: weights from a local file (never the network) - the
    release's model.pkl (gmean.npy and gstd.npy beside it) or a .pth/.safetensors state
    dict of this module - or random ones drawn from `seed` (mean 0, std 1). Raises
    WeightsError naming a file that is unreadable or does not fit."""
    if weights is None or Path(weights).suffix != ".pkl":
        return frozen_network(NAME, AENet, weights, seed)
    state_dict = read_released_weights(Path(weights))  # fails before building 113M weights
    model = frozen_network(NAME, AENet, None, seed)
    load_state_dict_strict(model, state_dict, source=f"weights file {weights}")
    return model


def waveform_features(
    model: nn.Module, samples: np.ndarray, batch_size: int = 64, device: str | torch.device = "cpu"
) -> np.ndarray:
    """AENet features of a mono 16-kHz waveform in [-1, 1], one per 2-s patch every second:
    (n, 1024) float32, each row of unit L2 norm as the release's feat_extract returns it."""
    if len(samples) < WINDOW_SAMPLES:
        samples = np.pad(samples, (0, SAMPLE_RATE - len(samples)))
    inputs = patches(htk_features(samples))  # (n, 3, 200, 50)
    model = model.to(device)
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(inputs), batch_size):
            x = torch.from_numpy(inputs[start : start + batch_size]).to(device)
            outputs.append(model(x).float().cpu().numpy())
    fc6 = np.concatenate(outputs)  # (n, 1024)
    norms = np.linalg.norm(fc6, axis=1, keepdims=True)
    return fc6 / np.maximum(norms, np.finfo(np.float32).tiny)


def shard_features(
    audio_dir: Path, weights: Path | None, batch_size: int, device: str
) -> tuple[np.ndarray, np.ndarray]:
    """One AENet vector per clip of an audio shard (the media stage's 16-kHz WAVs +
    index.csv; clips whose audio_status is ok): (clip_id (N,), features float32 (N, 1024)).

    A clip's vector is the mean of its per-second features. Lee et al. give the features
    as (seconds, 1024) and feed them to the SVMs "without preprocessing"; their SVMs and
    generators take one vector per video, and the release returns a sequence, so a
    pooling is implied but not said: the mean, the usual one for such sequences. (AENet's
    paper could not be read here beyond its abstract, so whether it too averages over a
    video is unverified.) A 3-s Moments clip has one patch, so its mean is that feature.
    """
    index = pd.read_csv(audio_dir / "index.csv")
    clip_ids = index.loc[index.audio_status == "ok", "clip_id"].to_numpy(dtype=str)
    model = build_aenet(weights)
    features = np.zeros((len(clip_ids), FEATURE_DIM), np.float32)
    for i, clip_id in enumerate(tqdm(clip_ids, desc=f"{NAME} features", unit="clip")):
        path = audio_dir / f"{clip_id}.wav"
        samples, rate = load_wav(path)
        if rate != SAMPLE_RATE:
            raise ValueError(f"{path}: AENet needs {SAMPLE_RATE} Hz audio, the file has {rate}")
        features[i] = waveform_features(model, samples.mean(axis=0), batch_size, device).mean(0)
    return clip_ids, features
