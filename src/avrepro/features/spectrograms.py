"""The two-phase audio branch's input: MEL, Gammatone (GAM) and CQT spectrograms of a
two-channel segment, with deltas and delta-deltas (Pham et al., §II-A, Fig. 2).

The paper resamples the audio to 32 kHz, keeps both channels and sets "the filter
number, the window size, the hop size to 128, 80 ms, 14 ms", giving spectrograms of
128 x 309 x 2 per 10-second segment; delta and delta-delta make them 128 x 305 x 6.

We keep the printed parameters, and they give other frame counts. A 14 ms hop is 448
samples at 32 kHz, so a 10 s segment (320,000 samples) yields 1 + 320000 // 448 = 715
frames with centred frames (librosa's default, used by the authors' feature code), or
709 without padding. 309 frames would need a hop of about 32 ms: e.g. a 4096-sample
(128 ms) window moved by 1024 samples (32 ms) without padding gives
floor((320000 - 4096) / 1024) + 1 = 309. The printed 309 does not follow from the printed
window and hop, so we keep those and get

    static : (2, 128, 715)   per channel, 128 filters x 715 frames
    stacked: (6, 128, 711)   [static, delta, delta-delta] x 2 channels, 4 frames fewer

The loss of 4 frames is the paper's own (309 -> 305): deltas over a 5-frame regression
window are exact only where the window fits, 2 frames in from either end, and we keep
just those frames (see `deltas`). tests/unit/test_spectrograms.py pins these shapes.

Where the paper is silent we follow the authors' released spectrogram code (github.com/
lamdangpham/AI-DeepLearning--Acoustic_Scene_Classification_Spectrogram_Feature_Extraction_
DCASE2016_2018): librosa for MEL and CQT, Ellis's gammatonegram (FFT approximation) for
GAM, a lowest frequency of 10 Hz, and the natural log of the magnitudes. The CQT departs
from its 24 bins per octave, which would put the paper's 128 bins below 392 Hz
(SpectrogramSpec.cqt_fmin says what replaces them and why).
"""

from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
from tqdm import tqdm

from avrepro.media.audio import load_wav

KINDS = ("mel", "gam", "cqt")
# The log's floor: the authors add eps = np.spacing(1) to the waveform; a floor on the
# magnitudes does the same job (no log(0) on digital silence) without shifting the signal.
LOG_FLOOR = 1e-8
DELTA_WIDTH = 5  # frames in the delta regression window (HTK's N = 2, librosa's default 9)


@dataclass(frozen=True)
class SpectrogramSpec:
    sample_rate: int = 32_000
    n_filters: int = 128
    window_s: float = 0.080
    hop_s: float = 0.014
    # Every segment is padded with zeros or cut to this length, so all share one shape.
    duration_s: float = 10.0
    fmin: float = 10.0  # Hz: the lowest band of MEL and GAM
    # The CQT's band. The paper prints only its 128 bins; at 24 bins per octave from 10 Hz
    # they would span 10-392 Hz, no band a scene classifier listens to. 12 bins per octave
    # (semitones, librosa's default) and the lowest fmin at or below MEL's 10 Hz whose 128
    # bins fit under the Nyquist frequency of 32 kHz audio (librosa refuses 10 Hz: the top
    # filter's band would cross 16 kHz) span 9.5 Hz - 14.6 kHz, as MEL and GAM span the band.
    cqt_fmin: float = 9.5
    cqt_bins_per_octave: int = 12

    @property
    def win_length(self) -> int:
        return round(self.window_s * self.sample_rate)  # 2560 samples at 32 kHz

    @property
    def hop_length(self) -> int:
        return round(self.hop_s * self.sample_rate)  # 448 samples at 32 kHz

    @property
    def n_fft(self) -> int:
        # Ellis's gammatonegram rule, 2 ** ceil(log2(2 * window)); it also gives the
        # 4096 of the authors' MEL code for their 1920-sample window.
        return 2 ** int(np.ceil(np.log2(2 * self.win_length)))

    @property
    def n_samples(self) -> int:
        return round(self.duration_s * self.sample_rate)


def erb_space(fmin: float, fmax: float, n: int) -> np.ndarray:
    """`n` centre frequencies equally spaced on the ERB-rate scale, ascending, the last
    just below `fmax` and the first at `fmin` (Slaney's ERBSpace, Glasberg & Moore's
    ERB = f / 9.26449 + 24.7 Hz)."""
    ear_q, min_bw = 9.26449, 24.7
    k = np.arange(1, n + 1)
    step = (np.log(fmin + ear_q * min_bw) - np.log(fmax + ear_q * min_bw)) / n
    descending = -ear_q * min_bw + np.exp(k * step) * (fmax + ear_q * min_bw)
    return descending[::-1]


def gammatone_weights(n_fft: int, sr: int, n_filters: int, fmin: float, fmax: float) -> np.ndarray:
    """(n_filters, n_fft // 2 + 1) weights that turn an STFT magnitude into a gammatonegram.

    Ellis's fft2gammatonemx (gammatonegram.m, also the `gammatone` package's fft_weights):
    each row is the magnitude response, at the FFT bin frequencies, of Slaney's
    4th-order gammatone filter (MakeERBFilters: four cascaded 2nd-order sections with
    zeros z_k and a pole pair p, p*), scaled to unit gain at its centre frequency. Ellis
    writes the gain in closed form; here it is the same response evaluated at the
    centre frequency.
    """
    cf = erb_space(fmin, fmax, n_filters)[:, None]  # (F, 1) Hz
    t = 1.0 / sr
    erb = cf / 9.26449 + 24.7
    b = 1.019 * 2 * np.pi * erb  # bandwidth parameter of the gammatone envelope
    theta = 2 * np.pi * cf * t
    pole = np.exp(-b * t) * np.exp(1j * theta)  # (F, 1)
    # Zeros of the four sections: -A1k / T in MakeERBFilters.
    sqrt_terms = np.array([np.sqrt(3 + 2**1.5), -np.sqrt(3 + 2**1.5),
                           np.sqrt(3 - 2**1.5), -np.sqrt(3 - 2**1.5)])
    zeros = (np.cos(theta) + sqrt_terms * np.sin(theta)) / np.exp(b * t)  # (F, 4)

    def response(z: np.ndarray) -> np.ndarray:  # unnormalised |H(z)| on the unit circle
        numerator = np.prod(np.abs(z[:, :, None] - zeros[:, None, :]), axis=2)
        denominator = np.abs((z - pole) * (z - np.conj(pole))) ** 4
        return numerator / denominator

    bins = np.exp(2j * np.pi * np.arange(n_fft // 2 + 1) / n_fft)[None, :]  # (1, K)
    gain = response(np.exp(1j * theta))  # (F, 1)
    return response(np.broadcast_to(bins, (n_filters, bins.shape[1]))) / gain


def static_spectrogram(samples: np.ndarray, kind: str, spec: SpectrogramSpec) -> np.ndarray:
    """Log spectrogram of each channel: (C, N) float -> (C, n_filters, frames) float32."""
    if kind == "cqt":
        magnitude = np.abs(librosa.cqt(
            samples, sr=spec.sample_rate, hop_length=spec.hop_length, fmin=spec.cqt_fmin,
            n_bins=spec.n_filters, bins_per_octave=spec.cqt_bins_per_octave,
        ))  # (C, F, T)
    else:
        stft = np.abs(librosa.stft(
            samples, n_fft=spec.n_fft, hop_length=spec.hop_length, win_length=spec.win_length,
        ))  # (C, n_fft // 2 + 1, T), centred frames
        if kind == "mel":
            weights = librosa.filters.mel(sr=spec.sample_rate, n_fft=spec.n_fft,
                                          n_mels=spec.n_filters, fmin=spec.fmin)
        else:
            # Ellis scales the weighted magnitudes by 1 / nfft.
            weights = gammatone_weights(spec.n_fft, spec.sample_rate, spec.n_filters,
                                        spec.fmin, spec.sample_rate / 2) / spec.n_fft
        # Weights applied to the magnitude (librosa's melspectrogram with power=1 and
        # Ellis's gammatonegram); the authors' MEL code weights the complex STFT before
        # taking |.|, which lets bins of opposite phase cancel, so we do not copy that.
        magnitude = weights @ stft  # (C, F, T)
    return np.log(np.maximum(magnitude, LOG_FLOOR)).astype(np.float32)


def deltas(static: np.ndarray) -> np.ndarray:
    """Stack static, delta and delta-delta: (C, F, T) -> (3C, F, T - 4).

    Both derivatives are 5-frame least-squares fits (librosa.feature.delta with width=5,
    order 1 and 2, i.e. Savitzky-Golay) computed only where the window fits, so every
    kept value is exact and the time axis loses 2 frames at each end, as the paper's
    309 -> 305. Channel order: [static, delta, delta-delta], each with all channels.
    """
    if static.shape[-1] < DELTA_WIDTH:
        raise ValueError(f"need at least {DELTA_WIDTH} frames for deltas, got {static.shape[-1]}")
    x = [static[..., i : static.shape[-1] - 4 + i] for i in range(DELTA_WIDTH)]  # t-2 ... t+2
    delta = (2 * (x[4] - x[0]) + (x[3] - x[1])) / 10
    delta2 = (2 * (x[4] + x[0]) - (x[3] + x[1]) - 2 * x[2]) / 7
    return np.concatenate([x[2], delta, delta2], axis=0).astype(np.float32)


def spectrogram(samples: np.ndarray, sr: int, kind: str, spec: SpectrogramSpec) -> np.ndarray:
    """The audio branch's input for one segment: (2, N) samples -> (6, n_filters, frames).

    `samples` must already be at `spec.sample_rate` (the media stage resamples) and have
    two channels; the segment is zero-padded or cut to `spec.duration_s` first.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown spectrogram {kind!r}; known: {', '.join(KINDS)}")
    if sr != spec.sample_rate:
        raise ValueError(f"audio at {sr} Hz, the spectrograms expect {spec.sample_rate} Hz")
    if samples.ndim != 2 or samples.shape[0] != 2:
        raise ValueError(f"expected two-channel samples (2, N), got shape {samples.shape}")
    samples = librosa.util.fix_length(samples, size=spec.n_samples, axis=-1)
    return deltas(static_spectrogram(samples, kind, spec))


def spectrogram_shard(
    audio_dir: Path, kind: str, spec: SpectrogramSpec
) -> tuple[np.ndarray, np.ndarray]:
    """Spectrograms of every decoded clip of an audio shard (the media stage's WAV folder
    and its index.csv): (clip_id (N,), float16 (N, 6, n_filters, frames)).

    float16 halves the store (1.1 MB per 10 s clip); log magnitudes and their deltas need
    far less than its 3 significant digits.
    """
    index = pd.read_csv(audio_dir / "index.csv")
    clip_ids = index.loc[index.audio_status == "ok", "clip_id"].to_numpy(dtype=str)
    features = []
    for clip_id in tqdm(clip_ids, desc=f"{kind} spectrograms", unit="clip"):
        path = audio_dir / f"{clip_id}.wav"
        samples, rate = load_wav(path)
        try:
            features.append(spectrogram(samples, rate, kind, spec).astype(np.float16))
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
    if not features:  # a shard without decoded audio
        n_frames = spec.n_samples // spec.hop_length + 1 - (DELTA_WIDTH - 1)
        return clip_ids, np.zeros((0, 6, spec.n_filters, n_frames), np.float16)
    return clip_ids, np.stack(features)
