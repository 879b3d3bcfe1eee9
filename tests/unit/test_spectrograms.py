"""Two-phase audio input (Pham et al., §II-A): MEL, GAM and CQT spectrograms + deltas."""

from pathlib import Path

import librosa
import numpy as np
import pandas as pd
import pytest
import soundfile
import yaml

from avrepro.features.spectrograms import (
    KINDS,
    SpectrogramSpec,
    deltas,
    erb_space,
    gammatone_weights,
    spectrogram,
    spectrogram_shard,
    static_spectrogram,
)

PAPER = SpectrogramSpec()  # 32 kHz, 128 filters, 80 ms window, 14 ms hop, 10 s
# A small spec for fast behavioural tests: 8 kHz, 1 s, 32 filters.
REPO = Path(__file__).resolve().parents[2]
SMALL = SpectrogramSpec(sample_rate=8000, n_filters=32, duration_s=1.0, fmin=50.0,
                        cqt_fmin=50.0, cqt_bins_per_octave=6)


def tone(freq, spec, seconds=None, channels=2):
    t = np.arange(round((seconds or spec.duration_s) * spec.sample_rate)) / spec.sample_rate
    return np.tile(0.5 * np.sin(2 * np.pi * freq * t), (channels, 1)).astype(np.float32)


@pytest.mark.parametrize("kind", KINDS)
def test_ten_second_stereo_segment_shapes(kind):
    """§II-A prints 128x309x2 and, after deltas, 128x305x6 per 10 s segment. Its own window
    (80 ms) and hop (14 ms = 448 samples) give 1 + 320000 // 448 = 715 centred frames; 309
    would need e.g. a 4096-sample window and a 1024-sample hop without padding. We keep
    the printed parameters and pin what they give; the deltas cost 4 frames, as printed."""
    assert (PAPER.win_length, PAPER.hop_length, PAPER.n_samples) == (2560, 448, 320_000)
    assert 1 + (320_000 - 4096) // 1024 == 309  # the docstring's account of the 309
    y = np.random.default_rng(0).normal(0, 0.1, (2, PAPER.n_samples)).astype(np.float32)
    static = static_spectrogram(y, kind, PAPER)
    assert static.shape == (2, 128, 715)
    stacked = deltas(static)
    assert stacked.shape == (6, 128, 711)
    assert static.shape[-1] - stacked.shape[-1] == 309 - 305
    assert np.isfinite(stacked).all()


def test_segments_are_padded_or_cut_to_the_configured_duration():
    short = spectrogram(tone(440, SMALL, seconds=0.3), 8000, "mel", SMALL)
    long = spectrogram(tone(440, SMALL, seconds=1.7), 8000, "mel", SMALL)
    frames = 1 + SMALL.n_samples // SMALL.hop_length - 4
    assert short.shape == long.shape == (6, 32, frames)


def test_deltas_are_five_frame_regressions_like_librosa():
    x = np.random.default_rng(1).normal(size=(2, 3, 40)).astype(np.float32)
    out = deltas(x)
    interior = slice(2, -2)  # where librosa's 5-frame window needs no edge handling
    np.testing.assert_allclose(out[:2], x[..., interior])
    np.testing.assert_allclose(out[2:4], librosa.feature.delta(x, width=5)[..., interior],
                               atol=1e-5)
    np.testing.assert_allclose(out[4:], librosa.feature.delta(x, width=5, order=2)[..., interior],
                               atol=1e-5)


def test_deltas_of_a_quadratic_are_its_derivatives():
    t = np.arange(20, dtype=np.float32)
    x = (3 * t**2 + 2 * t)[None, None, :]  # one channel, one filter
    static, delta, delta2 = deltas(x)[:, 0]
    np.testing.assert_allclose(static, x[0, 0, 2:-2])
    np.testing.assert_allclose(delta, 6 * t[2:-2] + 2, rtol=1e-5)  # d/dt
    np.testing.assert_allclose(delta2, 6, rtol=1e-5)  # d2/dt2
    with pytest.raises(ValueError, match="at least 5 frames"):
        deltas(x[..., :4])


def test_erb_space_is_ascending_from_fmin_to_below_fmax():
    cf = erb_space(10, 16000, 128)
    assert cf[0] == pytest.approx(10) and cf[-1] < 16000 and np.all(np.diff(cf) > 0)
    erb_rate = np.log(cf + 9.26449 * 24.7)  # equal steps on the ERB-rate scale
    np.testing.assert_allclose(np.diff(erb_rate), np.diff(erb_rate)[0], rtol=1e-9)


def test_gammatone_filters_peak_with_unit_gain_at_their_centre_frequencies():
    n_fft, sr = 8192, 32000
    weights = gammatone_weights(n_fft, sr, 128, 10, sr / 2)
    assert weights.shape == (128, n_fft // 2 + 1)
    cf = erb_space(10, sr / 2, 128)
    bin_hz = sr / n_fft
    peaks = weights.argmax(1) * bin_hz
    # Below 50 Hz the filters are narrower than an FFT bin; near Nyquist a digital
    # filter's mirrored pole pulls the peak down (as in Ellis's weights).
    inside = (cf > 50) & (cf < 0.85 * sr / 2)
    assert inside.sum() > 110
    assert np.all(np.abs(peaks - cf)[inside] <= bin_hz)
    nearest = np.round(cf / bin_hz).astype(int)
    gains = weights[np.arange(128), nearest][inside]
    np.testing.assert_allclose(gains, 1, atol=0.02)
    # Bandwidth grows with frequency (ERB): a high filter passes more bins at half gain.
    assert (weights[-1] > 0.5).sum() > 10 * (weights[40] > 0.5).sum()


@pytest.mark.parametrize(("kind", "freq"), [("mel", 1000.0), ("gam", 1000.0), ("cqt", 400.0)])
def test_a_tone_lights_the_filter_at_its_frequency(kind, freq):
    static = static_spectrogram(tone(freq, SMALL), kind, SMALL)
    frequencies = {
        "mel": librosa.mel_frequencies(SMALL.n_filters + 2, fmin=SMALL.fmin, fmax=4000)[1:-1],
        "gam": erb_space(SMALL.fmin, 4000, SMALL.n_filters),
        "cqt": librosa.cqt_frequencies(SMALL.n_filters, fmin=SMALL.cqt_fmin,
                                       bins_per_octave=SMALL.cqt_bins_per_octave),
    }[kind]
    loudest = frequencies[static[0].mean(axis=1).argmax()]
    assert loudest == pytest.approx(freq, rel=0.15)


def test_the_full_tiers_cqt_spans_the_band_up_to_nyquist():
    """128 bins from about MEL's lowest frequency to near 16 kHz, as MEL and GAM span it
    (at 24 bins per octave they would stop at 392 Hz), and librosa accepts them."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    spec = SpectrogramSpec(**config["twophase"]["spectrogram"])
    bins = librosa.cqt_frequencies(spec.n_filters, fmin=spec.cqt_fmin,
                                   bins_per_octave=spec.cqt_bins_per_octave)
    assert bins[0] <= spec.fmin and bins[-1] > 0.9 * spec.sample_rate / 2
    second = np.zeros((2, spec.sample_rate), np.float32)
    assert static_spectrogram(second, "cqt", spec).shape[:2] == (2, spec.n_filters)


def test_channels_are_kept_apart():
    y = tone(1000, SMALL)
    y[1] = 0  # right channel silent
    out = spectrogram(y, SMALL.sample_rate, "gam", SMALL)
    assert out[0].mean() > out[1].mean() + 5  # log magnitudes: left is loud, right is floor
    assert (out[1] == np.float32(np.log(1e-8))).all()  # silence: the log floor, no -inf


def test_bad_input_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="two-channel"):
        spectrogram(tone(440, SMALL, channels=1), SMALL.sample_rate, "mel", SMALL)
    with pytest.raises(ValueError, match="44100 Hz"):
        spectrogram(tone(440, SMALL), 44100, "mel", SMALL)
    with pytest.raises(ValueError, match="unknown spectrogram 'stft'"):
        spectrogram(tone(440, SMALL), SMALL.sample_rate, "stft", SMALL)


def test_shard_embeds_the_decoded_clips_and_names_a_bad_file(tmp_path):
    for clip_id, freq in (("a", 300.0), ("b", 900.0)):
        soundfile.write(tmp_path / f"{clip_id}.wav", tone(freq, SMALL).T, SMALL.sample_rate)
    pd.DataFrame({"clip_id": ["a", "b", "c"], "audio_status": ["ok", "ok", "error"]}).to_csv(
        tmp_path / "index.csv", index=False)
    ids, feats = spectrogram_shard(tmp_path, "mel", SMALL)
    assert list(ids) == ["a", "b"]
    assert feats.dtype == np.float16 and feats.shape == (2, 6, 32, 1 + 8000 // 112 - 4)
    assert not np.array_equal(feats[0], feats[1])

    soundfile.write(tmp_path / "a.wav", tone(300, SMALL, channels=1).T, SMALL.sample_rate)
    with pytest.raises(ValueError, match=r"a\.wav: expected two-channel"):
        spectrogram_shard(tmp_path, "mel", SMALL)


def test_a_shard_without_decoded_audio_is_empty_with_the_right_shape(tmp_path):
    pd.DataFrame({"clip_id": ["a"], "audio_status": ["error"]}).to_csv(
        tmp_path / "index.csv", index=False)
    ids, feats = spectrogram_shard(tmp_path, "cqt", SMALL)
    assert len(ids) == 0
    full = spectrogram(tone(440, SMALL), SMALL.sample_rate, "cqt", SMALL)
    assert feats.shape == (0, *full.shape)
