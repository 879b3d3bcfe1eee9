"""MAFnet's audio extractor: VGGish's log-mel front end and conv4_2 maps, 12x8x512 per
one-second window (MAFnet §4.2; Hershey et al. 2017; VGGish's vggish_params); and Lee et
al.'s (§3.2): VGGish's post-processed 128-d embeddings, (N, 3, 128)."""

import datetime
import re

import numpy as np
import pytest
import soundfile
import torch

from avrepro.features import vggish
from avrepro.features.registry import KNOWN_WEIGHTS, WeightsError
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


# --- Lee et al.'s features: VGGish embeddings, Google's post-processing, (N, 3, 128) ---


@pytest.fixture(scope="module")
def embedder():
    return vggish.build_embedder(weights=None, seed=0)


def test_examples_are_non_overlapping_096_s_patches_and_drop_the_partial_last():
    rng = np.random.default_rng(1)
    samples = rng.uniform(-0.5, 0.5, 3 * RATE)
    examples = vggish.waveform_examples(samples)
    spectrogram = vggish.log_mel(samples)  # (298, 64)
    assert examples.shape == (3, 96, 64) and examples.dtype == np.float32
    for k in range(3):  # example k: frames [96 k, 96 k + 96), i.e. from 0.96 k s
        np.testing.assert_allclose(examples[k], spectrogram[96 * k : 96 * (k + 1)], rtol=1e-6)
    # Not MAFnet's one-second windows: the second example starts at 0.96 s, not 1 s.
    assert not np.allclose(examples[1], vggish.window_examples(samples, 2)[1])
    # 2.2 s: 218 frames, two whole examples; the third (frames 192-287) would be partial.
    assert vggish.waveform_examples(samples[: int(2.2 * RATE)]).shape == (2, 96, 64)
    assert len(vggish.waveform_examples(samples[:15_600])) == 1  # exactly one example's span
    assert vggish.waveform_examples(samples[:15_599]).shape == (0, 96, 64)


def test_embedder_layers_follow_vggish_slim(embedder):
    shapes = {k: tuple(v.shape) for k, v in embedder.state_dict().items()}
    assert shapes["trunk.conv4_2.weight"] == (512, 512, 3, 3)
    assert shapes["fc1_1.weight"] == (4096, 512 * 6 * 4)
    assert shapes["fc1_2.weight"] == (4096, 4096)
    assert shapes["fc2.weight"] == (128, 4096) and shapes["fc2.bias"] == (128,)
    # The smoke tier's conv stack is the maps model's: one seed, one network.
    for key, value in vggish.build_vggish(weights=None, seed=0).state_dict().items():
        assert torch.equal(embedder.trunk.state_dict()[key], value), key
    assert not any(p.requires_grad for p in embedder.parameters()) and not embedder.training


class TorchVGGishLayout(torch.nn.Module):
    """A reference VGGish laid out as torchvggish's published file is: the conv stack as one
    nn.Sequential `features` (conv + ReLU pairs, max pools), the fully connected layers as
    `embeddings` (Linear + ReLU three times), and TF's (N, H, W, C) order before flattening."""

    def __init__(self):
        super().__init__()
        layers, channels = [], 1
        for width in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M"):
            if width == "M":
                layers.append(torch.nn.MaxPool2d(2, 2))
            else:
                layers += [torch.nn.Conv2d(channels, width, 3, padding=1), torch.nn.ReLU()]
                channels = width
        self.features = torch.nn.Sequential(*layers)
        self.embeddings = torch.nn.Sequential(
            torch.nn.Linear(12288, 4096), torch.nn.ReLU(),
            torch.nn.Linear(4096, 4096), torch.nn.ReLU(),
            torch.nn.Linear(4096, 128), torch.nn.ReLU(),
        )

    def forward(self, x):
        x = self.features(x).transpose(1, 3).transpose(1, 2)  # (N, 6, 4, 512)
        return self.embeddings(x.reshape(len(x), -1))


def test_torchvggish_layout_loads_whole_and_gives_its_embeddings():
    torch.manual_seed(1)
    reference = TorchVGGishLayout().eval()
    published = reference.state_dict()
    assert "features.13.weight" in published and "embeddings.4.bias" in published
    mapped = vggish.embedder_state_dict(published)
    fresh = vggish.VGGishEmbedder().eval()
    assert len(mapped) == len(published) == len(fresh.state_dict())  # every key consumed
    load_state_dict_strict(fresh, mapped, "torchvggish layout")
    examples = vggish.waveform_examples(tone(440.0, 2.0) + tone(3000.0, 2.0, 0.2))  # (2, ...)
    x = torch.from_numpy(examples).unsqueeze(1)
    with torch.no_grad():
        expected, ours = reference(x), fresh(x)
        # Flattened channels first, the same weights give other embeddings.
        nchw = reference.embeddings(reference.features(x).flatten(1))
    assert ours.shape == (2, 128) and (ours > 0).sum() > 20
    torch.testing.assert_close(ours, expected, rtol=1e-4, atol=1e-7)
    assert (nchw - expected).abs().max() > 100 * (ours - expected).abs().max() + 1e-5


def test_embedder_needs_the_embedding_layers_of_the_file(model, tmp_path):
    maps_only = tmp_path / "maps.pth"
    torch.save({k: v for k, v in torchvggish_state(model).items()
                if k.startswith("features.")}, maps_only)
    with pytest.raises(WeightsMismatchError, match=r"missing keys \(6\) fc1_1.weight"):
        vggish.build_embedder(maps_only)
    unknown = vggish.embedder_state_dict({"embeddings.6.weight": torch.zeros(1)})
    assert unknown == {"embeddings.6.weight": torch.zeros(1)}  # left for the strict load


def test_postprocess_is_googles_pca_clip_and_8_bit_quantisation():
    pca = np.eye(128)
    pca[:2, :2] = [[0.0, 2.0], [2.0, 0.0]]  # swaps the first two coordinates, doubled
    means = np.zeros(128)
    means[0] = 0.5
    embeddings = np.zeros((2, 128), np.float32)
    embeddings[0, :2] = [0.0, 1.0]
    embeddings[1, :3] = [0.5, -3.0, 0.3]
    out = vggish.postprocess(embeddings, pca, means)
    assert out.shape == (2, 128) and out.dtype == np.uint8
    # Row 0: PCA gives (2 * 1, 2 * (0 - 0.5)) = (2, -1) -> 255 and (-1 + 2) * 255 / 4 = 63.75.
    assert list(out[0, :2]) == [255, 63]
    # Row 1: (2 * -3 clipped to -2, 0, 0.3) -> 0, 127.5 and 146.625, truncated as Google does.
    assert list(out[1, :3]) == [0, 127, 146]
    assert (out[:, 3:] == 127).all()  # PCA output 0 quantises to 127


def save_legacy_numpy(state: dict, path):
    """Saved as torchvggish's 2019 file was: torch's legacy format, NumPy arrays pickled
    under NumPy 1's module name `numpy.core` (protocol 2 names globals in plain text)."""
    torch.save(state, path, _use_new_zipfile_serialization=False)
    path.write_bytes(path.read_bytes().replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))


def test_pca_parameters_load_from_the_torchvggish_file(tmp_path):
    rng = np.random.default_rng(2)
    matrix, means = rng.normal(size=(128, 128)), rng.normal(size=128)
    legacy = tmp_path / "vggish_pca_params-970ea276.pth"
    save_legacy_numpy({"pca_eigen_vectors": matrix, "pca_means": means}, legacy)
    assert b"numpy.core.multiarray" in legacy.read_bytes()
    loaded_matrix, loaded_means = vggish.load_pca(legacy)
    np.testing.assert_array_equal(loaded_matrix, matrix)
    np.testing.assert_array_equal(loaded_means, means)
    # Tensors, means as a column (torchvggish's Postprocessor state), load the same.
    tensors = tmp_path / "tensors.pth"
    torch.save({"pca_eigen_vectors": torch.from_numpy(matrix),
                "pca_means": torch.from_numpy(means).reshape(-1, 1)}, tensors)
    np.testing.assert_array_equal(vggish.load_pca(tensors)[1], means)
    # The smoke tier's stand-in: identity, zero means.
    identity, zeros = vggish.load_pca(None)
    assert (identity == np.eye(128)).all() and not zeros.any() and zeros.shape == (128,)


def test_pca_file_that_does_not_fit_or_runs_code_is_refused(tmp_path):
    wrong = tmp_path / "wrong.pth"
    torch.save({"pca_eigen_vectors": np.eye(64), "pca_means": np.zeros(64)}, wrong)
    with pytest.raises(WeightsError, match=r"\(128, 128\).*got \(64, 64\)"):
        vggish.load_pca(wrong)
    code = tmp_path / "code.pth"
    torch.save({"pca_eigen_vectors": np.eye(128), "pca_means": datetime.date(2019, 1, 1)}, code)
    with pytest.raises(WeightsError, match="cannot read PCA parameters"):
        vggish.load_pca(code)


def test_registry_has_the_pca_file_and_one_rule_per_file():
    assert KNOWN_WEIGHTS[vggish.PCA_NAME].file_name == "vggish_pca_params-970ea276.pth"
    assert KNOWN_WEIGHTS[vggish.NAME].file_name == "vggish-10086976.pth"
    names = [known.file_name for known in KNOWN_WEIGHTS.values()]
    assert len(names) == len(set(names))  # one download rule per output file


def test_embedding_shard_features_are_n_examples_by_128(embedder, tmp_path):
    clips = {"a": tone(440.0, 3.0), "b": tone(880.0, 2.2), "c": tone(660.0, 0.5)}
    for clip_id, samples in clips.items():
        soundfile.write(tmp_path / f"{clip_id}.wav", samples, RATE, subtype="PCM_16")
    (tmp_path / "index.csv").write_text(
        "clip_id,audio_status,n_samples,reason\n"
        "a,ok,48000,\nb,ok,35200,\nc,ok,8000,\nd,no_audio,0,x\n")
    pca = tmp_path / "pca.pth"  # a whitening that spreads the random network's embeddings
    torch.save({"pca_eigen_vectors": 40 * np.eye(128), "pca_means": np.full(128, 0.01)}, pca)
    ids, features = vggish.embedding_shard_features(
        tmp_path, None, pca, n_examples=3, batch_size=6, device="cpu")  # 2 clips a batch
    assert list(ids) == ["a", "b", "c"]
    assert features.shape == (3, 3, 128) and features.dtype == np.float32
    assert (features == np.round(features)).all() and features.max() <= 255
    assert not features[1, 2].any() and not features[2].any()  # zero-padded to 3 examples
    assert features[0, 2].any() and features[1, 1].any()
    # Each clip is the embedder on its examples, then the post-processor.
    samples, _ = soundfile.read(tmp_path / "b.wav", dtype="float32")
    raw = vggish.clip_maps(embedder, vggish.waveform_examples(samples))  # (2, 128)
    expected = vggish.postprocess(raw, *vggish.load_pca(pca))
    np.testing.assert_array_equal(features[1, :2], expected)
    assert len(np.unique(features[0])) > 10


def test_standin_pca_keeps_a_random_networks_embeddings_apart():
    model = vggish.build_embedder(None)
    t = np.arange(3 * vggish.SAMPLE_RATE) / vggish.SAMPLE_RATE
    tones = [0.3 * np.sin(2 * np.pi * f * t) for f in (262.0, 440.0, 1319.0)]
    raw = vggish.clip_maps(model, np.concatenate([vggish.waveform_examples(x) for x in tones]))
    with_identity = vggish.postprocess(raw, *vggish.load_pca(None))
    calibrated = vggish.postprocess(raw, *vggish.standin_pca(model))
    assert len(np.unique(with_identity)) <= 3  # the identity quantises them all alike
    assert len(np.unique(calibrated)) > 50
    assert not np.array_equal(calibrated[0], calibrated[-1])  # different tones, different codes
