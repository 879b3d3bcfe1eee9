"""MAiVAR's audio-images drawn the straightforward way: one matplotlib figure each.

This is the ground truth that `avrepro.features.audio_images` (the fast renderer the
workflow uses) is tested and benchmarked against; the workflow never calls it.

MAiVAR (Shaikh et al., Sect. 4.2 and Fig. 9) made its six pictures with the widely used
librosa tutorial recipe, as the authors' released code (mbilalshaikh/pymaivar,
code/core.py) shows: `librosa.display.waveshow` for the waveform, `specshow` for the
matrices, the spectral centroid / rolloff as a red min-max-normalised curve over a
faded waveform. Each representation below makes its own librosa call from the signal,
exactly as that recipe does. Where we depart from the authors' code it is for the
paper's 299x299 input: they saved 14x5-inch figures with matplotlib's default white
margins; here the axes fill a square canvas of exactly `size` x `size` pixels and the
data limits are tight, so the picture fills the whole image.
"""

import librosa
import librosa.display
import numpy as np
import sklearn.preprocessing
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from avrepro.features.audio_images import (
    CURVE_COLOR,
    DPI,
    HOP_LENGTH,
    N_FFT,
    N_MFCC,
    OVERLAY_WAVE_ALPHA,
    REPRESENTATIONS,
    ROLL_PERCENT,
    ROLLOFF_OFFSET,
)


def render(y: np.ndarray, sr: int, representation: str, size: int = 299) -> np.ndarray:
    """Draw one representation of mono signal `y` with matplotlib: (size, size, 3) uint8."""
    if representation not in REPRESENTATIONS:
        raise ValueError(
            f"unknown audio-image representation {representation!r}; "
            f"expected one of {REPRESENTATIONS}"
        )
    fig = Figure(figsize=(size / DPI, size / DPI), dpi=DPI)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_axis_off()
    ax.margins(0)
    _DRAW[representation](ax, y, sr)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _waveplot(ax: Axes, y: np.ndarray, sr: int) -> None:
    librosa.display.waveshow(y, sr=sr, ax=ax)


def _mfcc_matrix(y: np.ndarray, sr: int) -> np.ndarray:
    return librosa.feature.mfcc(y=y, sr=sr, n_mfcc=N_MFCC, n_fft=N_FFT, hop_length=HOP_LENGTH)


def _mfcc(ax: Axes, y: np.ndarray, sr: int) -> None:
    # No cmap: specshow picks its default from the data ('coolwarm' for signed MFCCs).
    librosa.display.specshow(
        _mfcc_matrix(y, sr), sr=sr, hop_length=HOP_LENGTH, x_axis="time", ax=ax
    )


def _mfcc_scaled(ax: Axes, y: np.ndarray, sr: int) -> None:
    scaled = sklearn.preprocessing.scale(_mfcc_matrix(y, sr), axis=1)
    librosa.display.specshow(scaled, sr=sr, hop_length=HOP_LENGTH, x_axis="time", ax=ax)


def _curve_over_wave(ax: Axes, y: np.ndarray, sr: int, curve: np.ndarray) -> None:
    # The tutorial calls frames_to_time(frames) with librosa's default sr; passing ours
    # keeps the curve aligned with the waveform at any rate (identical at 22050 Hz).
    times = librosa.frames_to_time(np.arange(len(curve)), sr=sr, hop_length=HOP_LENGTH)
    librosa.display.waveshow(y, sr=sr, alpha=OVERLAY_WAVE_ALPHA, ax=ax)
    ax.plot(times, sklearn.preprocessing.minmax_scale(curve), color=CURVE_COLOR)


def _spectral_centroid(ax: Axes, y: np.ndarray, sr: int) -> None:
    centroid = librosa.feature.spectral_centroid(y=y, sr=sr, n_fft=N_FFT, hop_length=HOP_LENGTH)[0]
    _curve_over_wave(ax, y, sr, centroid)


def _spectral_rolloff(ax: Axes, y: np.ndarray, sr: int) -> None:
    rolloff = librosa.feature.spectral_rolloff(
        y=y + ROLLOFF_OFFSET, sr=sr, n_fft=N_FFT, hop_length=HOP_LENGTH, roll_percent=ROLL_PERCENT
    )[0]
    _curve_over_wave(ax, y, sr, rolloff)


def _chromagram(ax: Axes, y: np.ndarray, sr: int) -> None:
    chroma = librosa.feature.chroma_stft(y=y, sr=sr, n_fft=N_FFT, hop_length=HOP_LENGTH)
    librosa.display.specshow(
        chroma,
        sr=sr,
        hop_length=HOP_LENGTH,
        x_axis="time",
        y_axis="chroma",
        cmap="coolwarm",
        ax=ax,
    )


_DRAW = {
    "waveplot": _waveplot,
    "mfcc": _mfcc,
    "mfcc_scaled": _mfcc_scaled,
    "spectral_centroid": _spectral_centroid,
    "spectral_rolloff": _spectral_rolloff,
    "chromagram": _chromagram,
}
