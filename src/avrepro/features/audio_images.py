"""MAiVAR's six audio-images of a clip, rendered fast in numpy (the workflow's hot path).

MAiVAR (Shaikh et al., Sect. 3.3, 5.2.2, Fig. 9) turns each clip's audio into a 299x299
picture fed to a frozen ImageNet CNN: (i) waveplot, (ii) MFCC, (iii) MFCC feature
scaling, (iv) spectral centroid, (v) spectral rolloff, (vi) chromagram. Its pictures
follow the widely used librosa tutorial recipe (the authors' released code,
mbilalshaikh/pymaivar code/core.py, is that recipe): `librosa.display.waveshow` for the
waveform, `specshow` for the MFCC / scaled MFCC / chroma matrices, and the min-max
normalised centroid / rolloff curve drawn in red over a faded waveform.

`avrepro.features.audio_images_reference` draws those pictures with one matplotlib
figure each; it is the ground truth. Thousands of clips make a figure per clip too slow,
so this module produces the same pictures without matplotlib figures: the STFT is
computed once per clip and every spectral feature derived from it, matrices are
coloured through the colormap's lookup table and resampled with specshow's geometry,
and the waveform envelope and the curves are rasterised directly, anti-aliased.
tests/unit/test_audio_images.py bounds the difference to the reference image.

Where the pictures are drawn as waveshow draws them rather than as one might expect:
the waveform is the symmetric envelope +-max|y| per frame (waveshow's, not a min/max
per column), and clips shorter than waveshow's 11025 points, which it draws as a
sample-by-sample line, still get the envelope here (identical once a pixel column
holds many samples; at 299 px that is any clip longer than about 0.1 s).
"""

import functools

import librosa
import librosa.display
import matplotlib
import numpy as np

REPRESENTATIONS = (
    "waveplot",
    "mfcc",
    "mfcc_scaled",
    "spectral_centroid",
    "spectral_rolloff",
    "chromagram",
)
# Short codes used in run names and paper tables.
SHORT_CODES = {
    "waveplot": "wp",
    "mfcc": "mfcc",
    "mfcc_scaled": "mfs",
    "spectral_centroid": "sc",
    "spectral_rolloff": "sr",
    "chromagram": "ch",
}

# librosa's defaults, which the tutorial recipe, and hence MAiVAR, used.
N_FFT = 2048
HOP_LENGTH = 512
N_MFCC = 20
ROLL_PERCENT = 0.85
# The recipe (and the authors' code) takes the rolloff of `y + 0.01`, so that silent
# frames still have a spectrum; we keep that offset.
ROLLOFF_OFFSET = 0.01

# matplotlib's defaults, which set what the recipe's pictures look like in pixels.
DPI = 100  # figure dpi: converts the line widths below from points to pixels
WAVE_COLOR = "#1f77b4"  # "C0", first colour of the default cycle, used by waveshow
CURVE_COLOR = "r"
OVERLAY_WAVE_ALPHA = 0.4  # the recipe fades the waveform under the centroid/rolloff curve
CURVE_WIDTH_PT = 1.5  # lines.linewidth
# waveshow's fill_between strokes the envelope outline in the fill colour (patch.linewidth).
ENVELOPE_EDGE_PT = 1.0
# waveshow draws an envelope of at most this many frames (its `max_points` default).
WAVESHOW_MAX_POINTS = 11025
# Horizontal supersampling of the waveform and curves: each pixel column is drawn as
# this many thin columns and averaged, which anti-aliases vertical edges as Agg does.
SUBCOLUMNS = 4


class AudioImageError(ValueError):
    """The signal or the requested representation cannot be rendered."""


def render(y: np.ndarray, sr: int, representation: str, size: int = 299) -> np.ndarray:
    """One audio-image of mono signal `y` at rate `sr`: a (size, size, 3) uint8 RGB array."""
    return render_all(y, sr, size, (representation,))[representation]


def render_all(
    y: np.ndarray,
    sr: int,
    size: int = 299,
    representations: tuple[str, ...] = REPRESENTATIONS,
) -> dict[str, np.ndarray]:
    """Several audio-images of `y`, sharing one STFT: name -> (size, size, 3) uint8."""
    unknown = [name for name in representations if name not in REPRESENTATIONS]
    if unknown:
        raise AudioImageError(
            f"unknown audio-image representation(s) {unknown}; expected some of {REPRESENTATIONS}"
        )
    if size < 1:
        raise AudioImageError(f"image size must be positive, got {size}")
    features = _ClipFeatures(_checked_signal(y), sr, size)
    return {name: _RENDERERS[name](features) for name in representations}


def _checked_signal(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise AudioImageError(f"expected a mono signal of shape (n_samples,), got {y.shape}")
    if not np.issubdtype(y.dtype, np.floating):
        raise AudioImageError(f"expected floating-point samples, got dtype {y.dtype}")
    if not np.all(np.isfinite(y)):
        raise AudioImageError("signal contains NaN or infinite samples")
    if y.size == 0:
        # An empty clip renders as one STFT window of silence rather than failing: the
        # manifest, not this function, is where a clip without sound is recorded.
        return np.zeros(N_FFT, dtype=np.float32)
    return y


class _ClipFeatures:
    """One clip's features for its images at one size, each computed at most once."""

    def __init__(self, y: np.ndarray, sr: int, size: int) -> None:
        self.y = y  # (n_samples,)
        self.sr = sr
        self.size = size

    @functools.cached_property
    def overlay_wave(self) -> tuple[int, tuple[float, float], np.ndarray]:
        """The waveform under the centroid and rolloff curves, drawn once for both.

        Returns the x extent in samples, the value range, and the wave's opacity
        (size, size). matplotlib's autoscaled limits cover both artists: the
        wave in [-peak, peak], the min-max scaled curve in [0, 1] at frame times.
        """
        last_frame_x = (len(self.y) // HOP_LENGTH) * HOP_LENGTH  # centred STFT frames
        x_end = max(len(self.y) - 1, last_frame_x)
        peak = float(np.abs(self.y).max())
        value_range = (min(-peak, 0.0), max(peak, 1.0))
        opacity = _envelope_opacity(self.y, x_end, value_range, self.size, OVERLAY_WAVE_ALPHA)
        return x_end, value_range, opacity

    @functools.cached_property
    def stft(self) -> np.ndarray:
        return librosa.stft(self.y, n_fft=N_FFT, hop_length=HOP_LENGTH)  # (F, T) complex

    @functools.cached_property
    def magnitude(self) -> np.ndarray:
        return np.abs(self.stft)  # (F, T), F = 1 + N_FFT // 2

    @functools.cached_property
    def power(self) -> np.ndarray:
        return self.magnitude**2  # (F, T)

    @functools.cached_property
    def frequencies(self) -> np.ndarray:
        # In the spectrogram's float32, so that products with it need no float64 copy.
        return librosa.fft_frequencies(sr=self.sr, n_fft=N_FFT).astype(np.float32)  # (F,) Hz

    @functools.cached_property
    def mfcc(self) -> np.ndarray:
        mel = librosa.feature.melspectrogram(S=self.power, sr=self.sr)  # (128, T)
        return librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=N_MFCC)  # (N_MFCC, T)

    @functools.cached_property
    def chroma(self) -> np.ndarray:
        return librosa.feature.chroma_stft(S=self.power, sr=self.sr)  # (12, T)

    @functools.cached_property
    def centroid(self) -> np.ndarray:
        # librosa.feature.spectral_centroid's formula, sum_f f * S[f] / sum_f S[f], as
        # one matrix product (librosa normalises the whole spectrogram first); frames
        # without energy get 0 as in librosa.
        total = self.magnitude.sum(axis=0)  # (T,)
        weighted = self.frequencies @ self.magnitude  # (T,)
        return np.divide(weighted, total, out=np.zeros_like(weighted), where=total > 0)

    @functools.cached_property
    def rolloff(self) -> np.ndarray:
        # The recipe takes the rolloff of y + offset. The STFT is linear, so its STFT is
        # this clip's plus the (cheap) STFT of the constant.
        shifted = np.abs(self.stft + _stft_of_constant(ROLLOFF_OFFSET, len(self.y)))  # (F, T)
        # librosa.feature.spectral_rolloff: the lowest frequency below which
        # ROLL_PERCENT of the frame's magnitude lies.
        cumulative = np.cumsum(shifted, axis=0)  # (F, T)
        reached = cumulative >= ROLL_PERCENT * cumulative[-1]
        return self.frequencies[np.argmax(reached, axis=0)]  # (T,)


def _stft_of_constant(value: float, n_samples: int) -> np.ndarray:
    """librosa.stft (centred, zero-padded) of `value` repeated n_samples times: (F, T).

    Every frame lying wholly inside the signal sees the same windowed constant, so
    only the few frames that overlap the padding at either end need their own FFT.
    """
    window = librosa.filters.get_window("hann", N_FFT, fftbins=True)  # (N_FFT,)
    n_frames = 1 + n_samples // HOP_LENGTH
    first_sample = np.arange(n_frames) * HOP_LENGTH - N_FFT // 2  # (T,) centred frames
    partial = (first_sample < 0) | (first_sample + N_FFT > n_samples)
    stft = np.empty((1 + N_FFT // 2, n_frames), dtype=np.complex64)
    stft[:] = np.fft.rfft(value * window)[:, None]
    samples = first_sample[partial, None] + np.arange(N_FFT)  # (n_partial, N_FFT)
    in_signal = (samples >= 0) & (samples < n_samples)
    stft[:, partial] = np.fft.rfft(value * window * in_signal, axis=1).T
    return stft


# ---- matrices: specshow ---------------------------------------------------------------


def _matrix_image(matrix: np.ndarray, size: int, cmap_name: str) -> np.ndarray:
    """Draw `matrix` (rows, frames) as specshow does on tight axes: (size, size, 3) uint8.

    specshow's cells are uniform in both directions and row 0 is at the bottom, so
    each pixel shows the cell under its centre; pcolormesh colours by the full data
    range mapped onto the colormap's 256 entries.
    """
    n_rows, n_frames = matrix.shape
    lo, hi = float(matrix.min()), float(matrix.max())
    scaled = (matrix - lo) / (hi - lo) if hi > lo else np.zeros_like(matrix)
    # Same binning as matplotlib's Colormap: floor(x * 256), with x == 1 in the top bin.
    index = np.minimum((scaled * 256).astype(np.intp), 255)  # (rows, frames)
    centres = (np.arange(size) + 0.5) / size
    rows = (centres * n_rows).astype(np.intp)[::-1]  # top pixel row shows the last matrix row
    cols = (centres * n_frames).astype(np.intp)
    return np.take(_lookup_table(cmap_name), index[rows][:, cols], axis=0)


@functools.cache
def _lookup_table(cmap_name: str) -> np.ndarray:
    """The colormap's 256 colours as a (256, 3) uint8 table (evaluated once, no figure)."""
    rgba = matplotlib.colormaps[cmap_name](np.arange(256))  # (256, 4) floats in [0, 1]
    return np.rint(rgba[:, :3] * 255).astype(np.uint8)


def _default_cmap(matrix: np.ndarray) -> str:
    # specshow without a cmap asks librosa.display.cmap: 'coolwarm' for signed data,
    # 'magma' when (robustly) one-signed, e.g. for the MFCCs of silence.
    return librosa.display.cmap(matrix).name


def _mfcc_image(features: _ClipFeatures) -> np.ndarray:
    return _matrix_image(features.mfcc, features.size, _default_cmap(features.mfcc))


def _mfcc_scaled_image(features: _ClipFeatures) -> np.ndarray:
    scaled = _standardised(features.mfcc)
    return _matrix_image(scaled, features.size, _default_cmap(scaled))


def _standardised(matrix: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance per row, as sklearn.preprocessing.scale(matrix, axis=1).

    Computed in float64, which spares sklearn's float32 precision warnings; constant
    rows (silence) become zeros, as sklearn leaves a zero deviation unscaled.
    """
    matrix = matrix.astype(np.float64)  # (rows, frames)
    centred = matrix - matrix.mean(axis=1, keepdims=True)
    deviation = centred.std(axis=1, keepdims=True)
    return centred / np.where(deviation > 0, deviation, 1.0)


def _chromagram_image(features: _ClipFeatures) -> np.ndarray:
    return _matrix_image(features.chroma, features.size, "coolwarm")


# ---- waveform and curves: waveshow + plot ----------------------------------------------


def _waveplot_image(features: _ClipFeatures) -> np.ndarray:
    y, size = features.y, features.size
    peak = float(np.abs(y).max())
    opacity = _envelope_opacity(y, len(y) - 1, (-peak, peak), size, alpha=1.0)
    return _composite([(WAVE_COLOR, opacity)], size)


def _spectral_centroid_image(features: _ClipFeatures) -> np.ndarray:
    return _curve_over_wave_image(features, features.centroid)


def _spectral_rolloff_image(features: _ClipFeatures) -> np.ndarray:
    return _curve_over_wave_image(features, features.rolloff)


def _curve_over_wave_image(features: _ClipFeatures, curve: np.ndarray) -> np.ndarray:
    """The faded waveform with `curve` (one value per frame), min-max scaled, on top."""
    lo, hi = float(curve.min()), float(curve.max())
    normalised = (curve - lo) / (hi - lo) if hi > lo else np.zeros_like(curve)  # minmax_scale
    frame_x = np.arange(len(curve)) * HOP_LENGTH  # frame times, in samples
    x_end, value_range, wave = features.overlay_wave
    size = features.size
    line = _polyline_coverage(frame_x / x_end * size, normalised, value_range, size)
    return _composite([(WAVE_COLOR, wave), (CURVE_COLOR, line)], size)


def _rows_from_values(
    values: np.ndarray, value_range: tuple[float, float], size: int
) -> np.ndarray:
    """Data values -> continuous pixel rows (0 at the top edge, `size` at the bottom)."""
    bottom, top = value_range
    if top <= bottom:  # silence: matplotlib would centre the flat line, so do we
        bottom, top = bottom - 1.0, top + 1.0
    return (top - values) / (top - bottom) * size


def _envelope_opacity(
    y: np.ndarray, x_end: int, value_range: tuple[float, float], size: int, alpha: float
) -> np.ndarray:
    """Opacity of waveshow's envelope drawn with `alpha`, x from sample 0 to `x_end`.

    waveshow fills between -e and +e, e being max|y| over frames of
    `len(y) // WAVESHOW_MAX_POINTS` samples, and strokes the polygon's outline in the
    same colour and alpha over the fill (faded, their overlap comes out darker).
    Per sub-column, the fill reaches the highest frame envelope. The outline zig-zags
    from frame to frame; its up and down strokes partly cancel in Agg, and measured
    against matplotlib its coverage is the fraction of the sub-column's frames that
    reach the row (0 where all do). Its outer edge is widened by half the line width
    on every side. Fill and outline are composited per sub-column, then averaged.
    """
    hop = max(1, len(y) // WAVESHOW_MAX_POINTS)
    n_frames = len(y) // hop
    envelope = np.abs(y[: n_frames * hop]).reshape(n_frames, hop).max(axis=1)  # (n_frames,)
    n_sub = size * SUBCOLUMNS
    first_frame = np.arange(n_sub) * x_end // n_sub // hop  # of each sub-column
    inside = first_frame < n_frames  # sub-columns past the signal's end (overlays) stay empty
    highest = np.zeros(n_sub)  # (n_sub,)
    highest[inside] = np.maximum.reduceat(envelope, first_frame[inside])

    fill = _span_coverage(
        np.where(inside, _rows_from_values(highest, value_range, size), 0.0),
        np.where(inside, _rows_from_values(-highest, value_range, size), 0.0),
        size,
    )

    # Outer edge: the stroke's half width reaches into neighbouring sub-columns too.
    half_width = 0.5 * ENVELOPE_EDGE_PT * DPI / 72  # in pixels
    reach = round(half_width * SUBCOLUMNS)  # the same, in sub-columns
    drawn = _sliding(np.maximum, inside, reach)
    outer = _rows_from_values(_sliding(np.maximum, highest, reach), value_range, size)
    edge = _rows_from_values(highest, value_range, size)
    mirror = _rows_from_values(0.0, value_range, size) * 2  # reflects rows about zero
    top_edge = _span_coverage(
        np.where(drawn, outer - half_width, 0.0), np.where(drawn, edge + half_width, 0.0), size
    )
    bottom_edge = _span_coverage(
        np.where(drawn, mirror - edge - half_width, 0.0),
        np.where(drawn, mirror - outer + half_width, 0.0),
        size,
    )

    edges = np.maximum(top_edge, bottom_edge, out=top_edge)  # (size, n_sub)
    # Fill, then outline over it: 1 - (1 - a f)(1 - a e) = a (f + e - a f e), in place
    # because these arrays are large enough for fresh allocations to cost.
    solid = edges * fill
    solid *= -alpha
    solid += fill
    solid += edges
    solid *= alpha
    solid = _average_subcolumns(solid)  # (size, size)

    # Zig-zag, inside the fill, so per pixel column: count the frames whose fill
    # covers each pixel row's centre.
    frame_column = np.minimum(np.arange(n_frames) * hop * size // max(x_end, 1), size - 1)
    top = _rows_from_values(envelope, value_range, size)  # (n_frames,)
    first_row = np.clip(np.ceil(top - 0.5), 0, size).astype(np.intp)
    end_row = np.clip(np.floor(mirror - top - 0.5) + 1, first_row, size).astype(np.intp)
    bins = (size + 1) * size
    starts = np.bincount(first_row * size + frame_column, minlength=bins)
    ends = np.bincount(end_row * size + frame_column, minlength=bins)
    covering = np.cumsum((starts - ends).reshape(size + 1, size)[:size], axis=0)  # (size, size)
    frames_per_column = np.maximum(np.bincount(frame_column, minlength=size), 1)
    fraction = (covering / frames_per_column).astype(np.float32)
    zigzag = np.where(fraction < 1, fraction, 0.0)
    return 1 - (1 - solid) * (1 - alpha * zigzag)


def _polyline_coverage(
    x: np.ndarray, values: np.ndarray, value_range: tuple[float, float], size: int
) -> np.ndarray:
    """Pixel coverage of a default-width line through (x, values), x in pixel columns.

    In each sub-column the line spans the heights it takes there (where it crosses the
    sub-column's edges and at its vertices inside), widened by half the line width in
    every direction.
    """
    n_sub = size * SUBCOLUMNS
    sub_x = x * SUBCOLUMNS  # (n_points,) in sub-columns
    rows = _rows_from_values(values, value_range, size)  # (n_points,)
    at_edges = np.interp(np.arange(n_sub + 1), sub_x, rows)  # (n_sub + 1,)
    upper = np.minimum(at_edges[:-1], at_edges[1:])  # (n_sub,)
    lower = np.maximum(at_edges[:-1], at_edges[1:])
    column = np.clip(sub_x.astype(np.intp), 0, n_sub - 1)
    np.minimum.at(upper, column, rows)
    np.maximum.at(lower, column, rows)

    half_width = 0.5 * CURVE_WIDTH_PT * DPI / 72  # in pixels
    reach = round(half_width * SUBCOLUMNS)  # the same, in sub-columns
    upper = -_sliding(np.maximum, -upper, reach) - half_width
    lower = _sliding(np.maximum, lower, reach) + half_width
    # The line runs from x[0] to x[-1]; beyond its (widened) ends nothing is drawn.
    centres = np.arange(n_sub) + 0.5
    drawn = (centres > sub_x[0] - reach) & (centres < sub_x[-1] + reach)
    return _average_subcolumns(
        _span_coverage(np.where(drawn, upper, 0.0), np.where(drawn, lower, 0.0), size)
    )


def _sliding(reduce: np.ufunc, values: np.ndarray, reach: int) -> np.ndarray:
    """`reduce` over each window of values[i - reach : i + reach + 1], clipped at the ends."""
    if reach == 0:
        return values
    padded = np.pad(values, reach, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * reach + 1)
    return reduce.reduce(windows, axis=-1)


def _span_coverage(upper: np.ndarray, lower: np.ndarray, size: int) -> np.ndarray:
    """Coverage of pixel rows by vertical spans [upper, lower], one per sub-column.

    upper, lower: (n_sub,) continuous rows (upper >= lower: nothing drawn). Returns
    (size, n_sub) in [0, 1]: each pixel row's overlap with the span, which is exact
    anti-aliasing vertically; `_average_subcolumns` then anti-aliases across.
    """
    top = np.arange(size, dtype=np.float32)[:, None]  # (size, 1) top edge of each pixel row
    overlap = np.minimum(top + 1, lower.astype(np.float32)) - np.maximum(
        top, upper.astype(np.float32)
    )  # (size, n_sub)
    return np.clip(overlap, 0.0, 1.0, out=overlap)


def _average_subcolumns(values: np.ndarray) -> np.ndarray:
    """(rows, size * SUBCOLUMNS) -> (rows, size), the mean of each pixel's sub-columns."""
    # Strided sums beat a mean over a short trailing axis.
    return sum(values[:, k::SUBCOLUMNS] for k in range(SUBCOLUMNS)) / SUBCOLUMNS


def _composite(layers: list[tuple[str, np.ndarray]], size: int) -> np.ndarray:
    """Paint (colour, coverage) layers in order over a white canvas: (size, size, 3) uint8."""
    canvas = np.ones((3, size, size), dtype=np.float32)  # channels first: contiguous planes
    for colour, coverage in layers:
        for plane, value in zip(canvas, matplotlib.colors.to_rgb(colour), strict=True):
            plane += coverage * (value - plane)  # plane * (1 - coverage) + value * coverage
    return np.ascontiguousarray(np.rint(canvas * 255).astype(np.uint8).transpose(1, 2, 0))


_RENDERERS = {
    "waveplot": _waveplot_image,
    "mfcc": _mfcc_image,
    "mfcc_scaled": _mfcc_scaled_image,
    "spectral_centroid": _spectral_centroid_image,
    "spectral_rolloff": _spectral_rolloff_image,
    "chromagram": _chromagram_image,
}
