"""MAFnet's audio extractor: VGGish's log-mel front end and conv4_2 maps, 12x8x512 per
one-second window (MAFnet §4.2; Hershey et al. 2017; VGGish's vggish_params)."""

import re

import numpy as np
import pytest
import soundfile
import torch

from avrepro.features import vggish
from avrepro.features.weights import (
    WeightsMismatchError,
    load_state_dict_strict,
    to_backbone_state_dict,
)

RATE = 16_000


@pytest.fixture(scope="module")
def model():
    return vggish.build_vggish(weights=None, seed=0)


def tone(hz: float, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * hz * np.arange(int(seconds * RATE)) / RATE)


def test_front_end_constants_are_vggishs():
    assert vggish.SAMPLE_RATE == 16_000
    assert (vggish.WINDOW_SAMPLES, vggish.HOP_SAMPLES, vggish.FFT_LENGTH) == (400, 160, 512)
    assert (vggish.MEL_BANDS, vggish.MEL_MIN_HZ, vggish.MEL_MAX_HZ) == (64, 125.0, 7500.0)
    assert vggish.LOG_OFFSET == 0.01 and vggish.EXAMPLE_FRAMES == 96


def test_mel_bands_are_triangles_between_125_and_7500_hz():
    weights = vggish.mel_matrix()
    assert weights.shape == (257, 64)
    assert not weights[0].any()  # the DC bin
    hz = np.linspace(0, 8000, 257)
    used = hz[weights.any(axis=1)]
    assert used.min() > 125 and used.max() < 7500
    peaks = weights.argmax(axis=0)
    assert (np.diff(peaks) >= 0).all() and peaks[-1] > peaks[0]  # bands rise in frequency
    assert weights.max() <= 1.0


def test_silence_is_the_log_offset_and_a_tone_peaks_in_its_band():
    np.testing.assert_allclose(vggish.log_mel(np.zeros(RATE)), np.log(0.01))
    spectrogram = vggish.log_mel(tone(1000.0, 1.0))
    assert spectrogram.shape == (98, 64)  # 1 + (16000 - 400) // 160
    edges = np.linspace(vggish.hertz_to_mel(125.0), vggish.hertz_to_mel(7500.0), 66)
    centers_hz = 700.0 * np.expm1(edges[1:-1] / 1127.0)
    assert spectrogram.mean(0).argmax() == np.abs(centers_hz - 1000.0).argmin()


def test_a_one_second_window_is_the_first_96_frames_of_that_second():
    rng = np.random.default_rng(0)
    samples = rng.uniform(-0.5, 0.5, int(2.5 * RATE))
    examples = vggish.window_examples(samples, 3)
    assert examples.shape == (3, 96, 64) and examples.dtype == np.float32
    for t in range(3):
        second = np.zeros(RATE)
        piece = samples[t * RATE : (t + 1) * RATE]
        second[: len(piece)] = piece  # the authors zero-pad a short last piece
        np.testing.assert_allclose(examples[t], vggish.log_mel(second)[:96], rtol=1e-5,
                                   atol=1e-5)
    # The third second holds 0.5 s of sound: frames from 0.5 s on see only the padding.
    np.testing.assert_allclose(examples[2, 50:], np.log(0.01), rtol=1e-6)
    assert (examples[2, :49] > np.log(0.01) + 1).all()


def test_window_count():
    assert vggish.count_windows(10 * RATE, 10) == 10
    assert vggish.count_windows(int(9.5 * RATE), 10) == 10  # a partial second is padded
    assert vggish.count_windows(int(7.2 * RATE), 10) == 8
    assert vggish.count_windows(30 * RATE, 10) == 10
    assert vggish.count_windows(RATE // 3, 10) == 1


def test_network_sizes_and_conv4_2_maps(model):
    convs = [(m.in_channels, m.out_channels, m.kernel_size) for m in model.modules()
             if isinstance(m, torch.nn.Conv2d)]
    assert convs == [(1, 64, (3, 3)), (64, 128, (3, 3)), (128, 256, (3, 3)),
                     (256, 256, (3, 3)), (256, 512, (3, 3)), (512, 512, (3, 3))]
    examples = vggish.window_examples(tone(440.0, 2.0), 2)
    maps = vggish.clip_maps(model, examples)
    assert maps.shape == (2, *vggish.FEATURE_SHAPE) == (2, 512, 12, 8)
    assert maps.min() >= 0 and maps.max() > 0  # after conv4_2's ReLU


def test_clip_maps_rejects_patches_of_the_wrong_size(model):
    with pytest.raises(ValueError, match=r"\(n, 96, 64\)"):
        vggish.clip_maps(model, np.zeros((1, 64, 96), np.float32))


def torchvggish_state(model):
    """The published vggish-10086976.pth layout: an nn.Sequential `features` (convs at 0,
    3, 6, 8, 11, 13) and the `embeddings` fully connected layers."""
    index = {"conv1": 0, "conv2": 3, "conv3_1": 6, "conv3_2": 8, "conv4_1": 11, "conv4_2": 13}
    state = {re.sub(r"^(\w+)\.", lambda m: f"features.{index[m[1]]}.", k): v
             for k, v in model.state_dict().items()}
    return state | {"embeddings.0.weight": torch.zeros(4096, 12288),
                    "embeddings.4.bias": torch.zeros(128)}


def test_published_file_layout_loads_strictly(model):
    published = torchvggish_state(model)
    assert "features.13.weight" in published
    fresh = vggish.VGGish()
    load_state_dict_strict(fresh, to_backbone_state_dict("vggish", published), "published")
    for key, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key
    with pytest.raises(WeightsMismatchError, match="features.0.weight"):
        load_state_dict_strict(vggish.VGGish(), published, "as published")


def test_shard_features(model, tmp_path):
    soundfile.write(tmp_path / "a.wav", tone(440.0, 2.5), RATE, subtype="PCM_16")
    soundfile.write(tmp_path / "b.wav", tone(880.0, 0.5), RATE, subtype="PCM_16")
    (tmp_path / "index.csv").write_text(
        "clip_id,audio_status,n_samples,reason\na,ok,40000,\nb,ok,8000,\nc,no_audio,0,x\n")
    ids, features, n_valid = vggish.shard_features(tmp_path, None, n_clips=4, batch_size=8,
                                                   device="cpu")
    assert list(ids) == ["a", "b"] and list(n_valid) == [3, 1]
    assert features.shape == (2, 4, 512, 12, 8) and features.dtype == np.float16  # as stored
    assert not features[0, 3].any() and not features[1, 1:].any()  # zero padding
    assert features[0, 2].any()


def test_shard_features_refuse_another_rate(tmp_path):
    soundfile.write(tmp_path / "a.wav", np.zeros(22050), 22050, subtype="PCM_16")
    (tmp_path / "index.csv").write_text("clip_id,audio_status,n_samples,reason\na,ok,22050,\n")
    with pytest.raises(ValueError, match=r"a\.wav.*16000 Hz"):
        vggish.shard_features(tmp_path, None, n_clips=2, batch_size=8, device="cpu")
