"""MAiVAR audio-images: the fast renderer against the matplotlib reference.

Similarity is the mean absolute difference between the two images, per channel, in
0-255 levels (the worst channel counts). Thresholds are calibrated on the fixture clip
and tones (observed: matrices <= 1, waveplot <= 2.5, curve overlays <= 4.5) with some
headroom; the negative checks show that an image drawn upside down, back to front or
with another colormap is far beyond them.
"""

from pathlib import Path

import librosa
import matplotlib
import numpy as np
import pytest

from avrepro.features import audio_images, audio_images_reference
from avrepro.features.audio_images import REPRESENTATIONS, SHORT_CODES, AudioImageError

SR = 22050
FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures"

MAX_DIFFERENCE = {
    "waveplot": 4.0,
    "mfcc": 2.0,
    "mfcc_scaled": 2.0,
    "spectral_centroid": 7.0,
    "spectral_rolloff": 7.0,
    "chromagram": 2.0,
}


def _tone(frequency: float = 440.0, seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    path = FIXTURES / "clips" / "test.wav"
    if not path.is_file():
        pytest.skip(f"fixture clip {path} is absent (../shared/fixtures not checked out)")
    return librosa.load(path, sr=SR, mono=True, duration=3.0)[0]


@pytest.fixture(scope="module")
def signals(clip: np.ndarray) -> dict[str, np.ndarray]:
    return {"clip": clip, "tone": _tone()}


@pytest.fixture(scope="module")
def pairs(signals: dict[str, np.ndarray]) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """(signal, representation) -> (fast image, reference image), both 299x299."""
    result = {}
    for label, y in signals.items():
        fast = audio_images.render_all(y, SR)
        for name in REPRESENTATIONS:
            result[label, name] = (fast[name], audio_images_reference.render(y, SR, name))
    return result


def _difference(image: np.ndarray, reference: np.ndarray) -> float:
    """Worst channel's mean absolute difference, in 0-255 levels."""
    diff = np.abs(image.astype(np.int16) - reference.astype(np.int16))
    return float(diff.mean(axis=(0, 1)).max())


def test_short_codes_name_every_representation_once() -> None:
    assert tuple(SHORT_CODES) == REPRESENTATIONS
    assert len(set(SHORT_CODES.values())) == len(REPRESENTATIONS)


@pytest.mark.parametrize("size", [64, 299])
def test_every_representation_is_a_square_rgb_image(size: int) -> None:
    images = audio_images.render_all(_tone(seconds=1.0), SR, size)
    assert tuple(images) == REPRESENTATIONS
    for name, image in images.items():
        assert image.shape == (size, size, 3), name
        assert image.dtype == np.uint8, name
        assert image.std() > 0, f"{name} is blank"


def test_render_alone_equals_render_all() -> None:
    y = _tone(seconds=1.0)
    images = audio_images.render_all(y, SR, 64)
    for name in REPRESENTATIONS:
        np.testing.assert_array_equal(audio_images.render(y, SR, name, 64), images[name])


def test_reference_image_has_the_requested_size() -> None:
    image = audio_images_reference.render(_tone(seconds=0.5), SR, "mfcc", size=64)
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8


@pytest.mark.parametrize("label", ["clip", "tone"])
@pytest.mark.parametrize("name", REPRESENTATIONS)
def test_fast_image_matches_reference(pairs: dict, label: str, name: str) -> None:
    fast, reference = pairs[label, name]
    assert _difference(fast, reference) < MAX_DIFFERENCE[name]


@pytest.mark.parametrize("name", REPRESENTATIONS)
def test_metric_rejects_a_wrongly_drawn_image(pairs: dict, name: str) -> None:
    fast, reference = pairs["clip", name]
    # The waveform is symmetric about zero, so for it a time reversal is the mistake to catch.
    wrong = fast[:, ::-1] if name == "waveplot" else fast[::-1]
    assert _difference(wrong, reference) > 2 * MAX_DIFFERENCE[name]


@pytest.mark.parametrize("name", ["mfcc", "mfcc_scaled", "chromagram"])
def test_metric_rejects_another_colormap(pairs: dict, name: str) -> None:
    fast, reference = pairs["clip", name]
    # Recolour the fast image through viridis: same geometry, other colours.
    colours, pixel_colour = np.unique(fast.reshape(-1, 3), axis=0, return_inverse=True)
    coolwarm = audio_images._lookup_table("coolwarm").astype(np.int16)  # (256, 3)
    level = np.abs(colours[:, None].astype(np.int16) - coolwarm).sum(axis=-1).argmin(axis=1)
    viridis = matplotlib.colormaps["viridis"](level[pixel_colour.ravel()], bytes=True)[:, :3]
    viridis = viridis.reshape(fast.shape)
    assert _difference(viridis, reference) > 2 * MAX_DIFFERENCE[name]


def test_chromagram_of_a4_is_warmest_in_the_a_row() -> None:
    size = 120  # a multiple of 12: each pitch class gets 10 pixel rows
    image = audio_images.render(_tone(440.0), SR, "chromagram", size).astype(float)
    warmth = (image[..., 0] - image[..., 2]).mean(axis=1)  # red minus blue, per pixel row
    per_class = warmth.reshape(12, size // 12).mean(axis=1)[::-1]  # C at the bottom
    assert per_class.argmax() == 9  # C, C#, D, D#, E, F, F#, G, G#, A


@pytest.mark.parametrize("n_samples", [SR, 0])
def test_silence_renders_valid_images(n_samples: int) -> None:
    images = audio_images.render_all(np.zeros(n_samples, dtype=np.float32), SR, 64)
    for name, image in images.items():
        assert image.shape == (64, 64, 3) and image.dtype == np.uint8, name
    # No energy anywhere: matrices are uniform, the waveform is at most a flat line.
    for name in ("mfcc_scaled", "chromagram"):
        assert len(np.unique(images[name].reshape(-1, 3), axis=0)) == 1, name
    blank_rows = (images["waveplot"] == 255).all(axis=(1, 2))
    assert blank_rows.sum() >= 60


def test_unknown_representation_is_named_in_the_error() -> None:
    with pytest.raises(AudioImageError, match="spectrogram"):
        audio_images.render(_tone(seconds=0.1), SR, "spectrogram")


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (np.zeros((2, 100), dtype=np.float32), "mono"),
        (np.zeros(100, dtype=np.int16), "floating-point"),
        (np.array([0.0, np.nan, 0.0], dtype=np.float32), "NaN"),
    ],
)
def test_bad_signal_is_rejected(y: np.ndarray, message: str) -> None:
    with pytest.raises(AudioImageError, match=message):
        audio_images.render(y, SR, "waveplot")
