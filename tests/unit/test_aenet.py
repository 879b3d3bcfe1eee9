"""Lee et al.'s AENet features: HTK's FBANK_D_A front end, AENet up to fc6 and the released
Lasagne weights (Takahashi et al. 2018; github.com/znaoya/aenet; HTK 3.4 HSigP.c)."""

import struct

import numpy as np
import pytest
import soundfile
import torch
from scipy.signal import convolve2d

from avrepro.features import aenet
from avrepro.features.registry import KNOWN_WEIGHTS, WeightsError
from avrepro.features.weights import (
    WeightsMismatchError,
    load_state_dict_strict,
    read_state_dict,
    to_backbone_state_dict,
)
from avrepro.media.audio import load_wav

RATE = 16_000
SMALL_PATCH = 12  # a network of the published layers on 12-frame patches: fc5 sees 128 x 2 x 9


@pytest.fixture(scope="module")
def model():
    return aenet.build_aenet(weights=None, seed=0)


def tone(hz: float, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * hz * np.arange(int(seconds * RATE)) / RATE)


def htk_init_fbank(num_chans: int = 50, fft_n: int = 512, samp_period: int = 625) -> np.ndarray:
    """HSigP.c InitFBank/Wave2FBank (no LOFREQ/HIFREQ) as HTK writes it: each FFT index k
    (1-based, klo = 2 .. khi = fftN / 2) gives loWt of its magnitude to channel loChan and
    the rest to loChan + 1. Returned as (fft_n // 2 + 1, num_chans) on 0-based bins."""
    nby2 = fft_n // 2
    fres = 1e7 / (samp_period * fft_n * 700.0)

    def mel(k):
        return 1127 * np.log(1 + (k - 1) * fres)

    max_chan = num_chans + 1
    mlo, mhi = 0.0, mel(nby2 + 1)
    cf = [mlo] + [chan / max_chan * (mhi - mlo) + mlo for chan in range(1, max_chan + 1)]
    weights = np.zeros((nby2 + 1, num_chans))
    chan = 1
    for k in range(2, nby2 + 1):
        while chan <= max_chan and cf[chan] < mel(k):
            chan += 1
        lo_chan = chan - 1
        lo_wt = (cf[lo_chan + 1] - mel(k)) / (cf[lo_chan + 1] - cf[lo_chan])
        if lo_chan > 0:
            weights[k - 1, lo_chan - 1] += lo_wt
        if lo_chan < num_chans:
            weights[k - 1, lo_chan] += 1 - lo_wt
    return weights


def test_front_end_constants():
    assert (aenet.SAMPLE_RATE, aenet.WINDOW_SAMPLES, aenet.HOP_SAMPLES) == (16_000, 400, 160)
    assert (aenet.FFT_LENGTH, aenet.MEL_BANDS, aenet.PREEMPHASIS) == (512, 50, 0.97)
    assert (aenet.PATCH_FRAMES, aenet.PATCH_HOP_FRAMES, aenet.FRAME_DIM) == (200, 100, 150)


def test_filterbank_is_htks():
    weights = aenet.filterbank_matrix()
    assert weights.shape == (257, 50)
    np.testing.assert_allclose(weights, htk_init_fbank(), atol=1e-12)
    assert not weights[0].any() and not weights[256].any()  # DC and Nyquist
    # Neighbouring channels share each bin between the first and the last centre.
    centres_hz = 700 * np.expm1(np.linspace(0, aenet.hertz_to_mel(8000.0), 52)[1:-1] / 1127)
    hz = np.arange(257) * 31.25
    inside = (hz >= centres_hz[0]) & (hz <= centres_hz[-1])
    np.testing.assert_allclose(weights[inside].sum(axis=1), 1.0)
    assert (np.diff(weights.argmax(axis=0)) >= 0).all()


def test_silence_is_htks_floor_and_a_tone_peaks_in_its_channel():
    np.testing.assert_array_equal(aenet.log_filterbank(np.zeros(RATE)), 0.0)  # log(1.0)
    assert aenet.log_filterbank(np.zeros(RATE)).shape == (98, 50)  # 1 + (16000 - 400) // 160
    spectrogram = aenet.log_filterbank(tone(1000.0, 1.0))
    centres_hz = 700 * np.expm1(np.linspace(0, aenet.hertz_to_mel(8000.0), 52)[1:-1] / 1127)
    assert spectrogram.mean(0).argmax() == np.abs(centres_hz - 1000.0).argmin()


def test_channels_are_log_magnitudes_not_powers():
    quiet, loud = aenet.log_filterbank(tone(440.0, 0.5, 0.1)), aenet.log_filterbank(
        tone(440.0, 0.5, 0.2)
    )
    above_floor = quiet > 0
    assert above_floor.mean() > 0.9
    np.testing.assert_allclose((loud - quiet)[above_floor], np.log(2.0), atol=1e-9)


def test_one_frame_is_htks_recipe_on_its_own_samples():
    rng = np.random.default_rng(0)
    samples = rng.uniform(-0.5, 0.5, 2000)
    frames = aenet.log_filterbank(samples)
    assert frames.shape == (11, 50)  # 1 + (2000 - 400) // 160
    t = 7
    frame = samples[160 * t : 160 * t + 400] * 32768  # HTK's 16-bit integer scale
    emphasised = np.concatenate([[frame[0] * 0.03], frame[1:] - 0.97 * frame[:-1]])
    hamming = 0.54 - 0.46 * np.cos(2 * np.pi * np.arange(400) / 399)
    magnitude = np.abs(np.fft.rfft(emphasised * hamming, 512))
    expected = np.log(np.maximum(magnitude @ htk_init_fbank(), 1.0))
    np.testing.assert_allclose(frames[t], expected, rtol=1e-10)


def test_regression_is_htks_with_repeated_ends():
    ramp = np.arange(10.0)[:, None] * [1.0, 2.0]  # (10, 2)
    delta = aenet.regression(ramp)
    expected = np.array([0.5, 0.8, 1, 1, 1, 1, 1, 1, 0.8, 0.5])[:, None] * [1.0, 2.0]
    np.testing.assert_allclose(delta, expected)
    # Accelerations: deltas of the deltas.
    acceleration = aenet.regression(delta)[[0, 1, 5]]
    np.testing.assert_allclose(acceleration, [[0.13, 0.26], [0.15, 0.3], [0, 0]], atol=1e-12)


def test_htk_vector_is_static_delta_acceleration():
    samples = np.random.default_rng(1).uniform(-0.5, 0.5, 8000)
    features = aenet.htk_features(samples)
    static = aenet.log_filterbank(samples)
    assert features.shape == (48, 150)
    np.testing.assert_array_equal(features[:, :50], static)
    np.testing.assert_array_equal(features[:, 50:100], aenet.regression(static))
    np.testing.assert_array_equal(features[:, 100:], aenet.regression(aenet.regression(static)))


def test_patches_of_2_s_every_second():
    # A 3-s Moments clip has 298 frames: one patch, its first 2 s.
    assert len(aenet.htk_features(np.zeros(3 * RATE))) == 298
    frames = np.arange(298 * 150, dtype=np.float64).reshape(298, 150)
    cut = aenet.patches(frames)
    assert cut.shape == (1, 3, 200, 50) and cut.dtype == np.float32
    np.testing.assert_array_equal(cut[0, 1, 10], frames[10, 50:100])  # delta of frame 10
    # The release's reference: 11.7 s (1168 frames) -> 10 features.
    cut = aenet.patches(np.repeat(np.arange(1168.0)[:, None], 150, axis=1))
    assert cut.shape == (10, 3, 200, 50)
    assert cut[9, 0, 0, 0] == 900 and cut[9, 2, 199, 49] == 1099


def test_a_short_sequence_is_repeated_as_the_release_does():
    frames = np.repeat(np.arange(48.0)[:, None], 150, axis=1)  # 0.5 s
    cut = aenet.patches(frames)
    # Doubled to 96, 192, 384 frames: two whole patches.
    assert cut.shape == (2, 3, 200, 50)
    np.testing.assert_array_equal(cut[0, 0, :, 0], np.arange(200) % 48)
    np.testing.assert_array_equal(cut[1, 0, :, 0], (100 + np.arange(200)) % 48)


def test_network_has_the_published_sizes(model):
    convs = [(m.in_channels, m.out_channels, m.kernel_size, m.padding)
             for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs == [(3, 64, (3, 3), (0, 0)), (64, 64, (3, 3), (0, 0)),
                     (64, 128, (3, 3), (0, 0)), (128, 128, (3, 3), (0, 0))]
    assert (model.fc5.in_features, model.fc5.out_features) == (128 * 96 * 9, 1024)
    assert sum(p.numel() for p in model.parameters()) == 114_556_992
    with torch.no_grad():
        out = model(torch.randn(2, 3, 200, 50))
    assert out.shape == (2, 1024) and (out >= 0).all()  # fc6 after its ReLU


def test_waveform_features_are_unit_rows_one_per_second(model):
    samples = np.random.default_rng(2).uniform(-0.5, 0.5, int(3.5 * RATE))
    features = aenet.waveform_features(model, samples, batch_size=1)
    assert features.shape == (2, 1024) and features.dtype == np.float32  # 348 frames
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, rtol=1e-5)
    with torch.no_grad():
        fc6 = model(torch.from_numpy(aenet.patches(aenet.htk_features(samples)))).numpy()
    np.testing.assert_allclose(features * np.linalg.norm(fc6, axis=1, keepdims=True), fc6,
                               rtol=1e-4, atol=1e-6)


def py2_pickle(params: list[np.ndarray]) -> bytes:
    """{'param_values': params} as Python 2's cPickle.dump(..., protocol=2) writes it:
    byte strings as Python 2 str (BINSTRING), arrays reduced by numpy.core's _reconstruct
    with a version-1 state (1, shape, dtype, fortran, raw bytes)."""

    def string(data: bytes) -> bytes:
        return b"T" + struct.pack("<i", len(data)) + data

    def integer(value: int) -> bytes:
        return b"J" + struct.pack("<i", value)

    def array(values: np.ndarray) -> bytes:
        values = np.ascontiguousarray(values, dtype="<f4")
        dtype = (b"cnumpy\ndtype\n" + string(b"f4") + integer(0) + integer(1) + b"\x87R("
                 + integer(3) + string(b"<") + b"NNN" + integer(-1) + integer(-1) + integer(0)
                 + b"tb")
        shape = b"(" + b"".join(integer(n) for n in values.shape) + b"t"
        return (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n(" + integer(0)
                + b"t" + string(b"b") + b"\x87R(" + integer(1) + shape + dtype + b"\x89"
                + string(values.tobytes()) + b"tb")

    items = b"".join(array(p) for p in params)
    return b"\x80\x02}" + string(b"param_values") + b"](" + items + b"es."


@pytest.fixture(scope="module")
def small():
    """A seeded small AENet with a non-trivial input normalisation."""
    torch.manual_seed(1)
    network = aenet.AENet(patch_frames=SMALL_PATCH).eval()
    network.mean.uniform_(-1, 1)
    network.std.uniform_(0.5, 2)
    return network


def released_files(network: aenet.AENet, folder, drop_last: bool = False):
    """model.pkl, gmean.npy and gstd.npy in the release's layout, from `network`."""
    params = []
    for layer in aenet.LASAGNE_LAYERS[:-1]:
        module = getattr(network, layer)
        weight = module.weight.detach().numpy()
        # Lasagne: convolution kernels flipped (a true convolution); dense W as (in, out).
        params += [weight[:, :, ::-1, ::-1] if layer.startswith("conv") else weight.T,
                   module.bias.detach().numpy()]
    params += [np.ones((1024, 41), np.float32), np.zeros(41, np.float32)]  # prob
    path = folder / "model.pkl"
    path.write_bytes(py2_pickle(params[:-1] if drop_last else params))
    np.save(folder / "gmean.npy", network.mean.numpy())
    np.save(folder / "gstd.npy", network.std.numpy())
    return path, params


def test_released_file_loads_every_key_with_flipped_kernels(small, tmp_path):
    path, params = released_files(small, tmp_path)
    state_dict = aenet.read_released_weights(path)
    fresh = aenet.AENet(patch_frames=SMALL_PATCH).eval()
    assert set(state_dict) == set(fresh.state_dict())  # every key; prob left out
    load_state_dict_strict(fresh, state_dict, source=str(path))
    x = torch.randn(3, 3, SMALL_PATCH, 50)
    with torch.no_grad():
        torch.testing.assert_close(fresh(x), small(x), rtol=0, atol=0)
        conv1a = fresh.conv1a(x[:1]).numpy()[0]  # (64, 10, 48)
    # Lasagne's conv1a: a true convolution with the file's W, summed over the streams.
    w_lasagne, b = params[0], params[1]
    for out in (0, 63):
        expected = b[out] + sum(convolve2d(x[0, c].numpy(), w_lasagne[out, c], mode="valid")
                                for c in range(3))
        np.testing.assert_allclose(conv1a[out], expected, rtol=1e-4, atol=1e-5)


def test_network_normalises_htk_vectors_as_the_release_does(small):
    frames = torch.randn(SMALL_PATCH, 150) * 3 + 1  # HTK vectors: 3 streams x 50 channels

    def patch(vectors):  # (frames, 150) -> (1, 3, frames, 50), as aenet.patches lays it out
        return vectors.reshape(SMALL_PATCH, 3, 50).permute(1, 0, 2).unsqueeze(0)

    plain = aenet.AENet(patch_frames=SMALL_PATCH).eval()
    plain.load_state_dict(small.state_dict() | {"mean": torch.zeros(150), "std": torch.ones(150)})
    with torch.no_grad():
        # The release: feat = (feat - gmean) / gstd on each HTK vector, then patches.
        expected = plain(patch((frames - small.mean) / small.std))
        torch.testing.assert_close(small(patch(frames)), expected)


def test_converted_pth_loads_alone(small, tmp_path):
    path, _ = released_files(small, tmp_path)
    converted = aenet.read_released_weights(path) | {"prob.weight": torch.zeros(41, 1024),
                                                     "prob.bias": torch.zeros(41)}
    torch.save(converted, tmp_path / "aenet.pth")
    fresh = aenet.AENet(patch_frames=SMALL_PATCH).eval()
    state_dict = to_backbone_state_dict("aenet", read_state_dict(tmp_path / "aenet.pth"))
    load_state_dict_strict(fresh, state_dict, source="aenet.pth")
    torch.testing.assert_close(fresh.state_dict(), small.state_dict(), rtol=0, atol=0)


def test_registered_files_sit_side_by_side():
    names = {KNOWN_WEIGHTS[key].file_name for key in ("aenet", "aenet_mean", "aenet_std")}
    assert names == {"model.pkl", aenet.MEAN_FILE, aenet.STD_FILE}
    others = [known.file_name for key, known in KNOWN_WEIGHTS.items() if "aenet" not in key]
    assert not names & set(others)


def test_bad_weights_files_are_named(small, tmp_path):
    garbage = tmp_path / "garbage" / "model.pkl"
    garbage.parent.mkdir()
    garbage.write_bytes(b"not a pickle")
    with pytest.raises(WeightsError, match=r"garbage/model\.pkl"):
        aenet.build_aenet(garbage)
    # A pickle that would run a command is refused, and the command does not run.
    marker = tmp_path / "ran"
    garbage.write_bytes(b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.")
    with pytest.raises(WeightsError, match=r"os\.system"):
        aenet.read_released_weights(garbage)
    assert not marker.exists()
    # A file of another network: one array short.
    path, _ = released_files(small, tmp_path, drop_last=True)
    with pytest.raises(WeightsError, match=r"model\.pkl holds 13 arrays"):
        aenet.read_released_weights(path)
    path, _ = released_files(small, tmp_path)
    (tmp_path / "gstd.npy").unlink()
    with pytest.raises(WeightsError, match=r"gstd\.npy is missing"):
        aenet.read_released_weights(path)


def test_weights_for_other_patches_do_not_fit(small, tmp_path):
    path, _ = released_files(small, tmp_path)
    with pytest.raises(WeightsMismatchError, match=r"model\.pkl.*fc5\.weight"):
        aenet.build_aenet(path)


def test_shard_features_average_each_clips_seconds(model, tmp_path):
    rng = np.random.default_rng(3)
    first = np.concatenate([tone(440.0, 1.5), rng.uniform(-0.5, 0.5, 2 * RATE)])  # 3.5 s
    soundfile.write(tmp_path / "a.wav", first, RATE, subtype="PCM_16")
    soundfile.write(tmp_path / "b.wav", tone(880.0, 0.5), RATE, subtype="PCM_16")
    (tmp_path / "index.csv").write_text(
        "clip_id,audio_status,n_samples,reason\na,ok,56000,\nb,ok,8000,\nc,no_audio,0,x\n")
    ids, features = aenet.shard_features(tmp_path, None, batch_size=4, device="cpu")
    assert list(ids) == ["a", "b"]
    assert features.shape == (2, 1024) and features.dtype == np.float32
    seconds = aenet.waveform_features(model, load_wav(tmp_path / "a.wav")[0][0])
    assert seconds.shape == (2, 1024) and not np.allclose(seconds[0], seconds[1])
    np.testing.assert_allclose(features[0], seconds.mean(0), rtol=1e-5, atol=1e-7)
    assert np.linalg.norm(features[0]) < 1  # a mean of two different unit vectors


def test_a_clip_shorter_than_a_frame_is_padded_to_a_second(model):
    features = aenet.waveform_features(model, np.full(100, 0.1))
    assert features.shape == (2, 1024)  # 1 s: 98 frames, doubled to 392: two patches


def test_shard_features_refuse_another_rate(tmp_path):
    soundfile.write(tmp_path / "a.wav", np.zeros(22050), 22050, subtype="PCM_16")
    (tmp_path / "index.csv").write_text("clip_id,audio_status,n_samples,reason\na,ok,22050,\n")
    with pytest.raises(ValueError, match=r"a\.wav.*16000 Hz"):
        aenet.shard_features(tmp_path, None, batch_size=8, device="cpu")
