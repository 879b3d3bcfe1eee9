"""AST's front end (Kaldi fbank as torchaudio computes it for AST) and its feature store."""

import math

import numpy as np
import pandas as pd
import pytest
import soundfile
import torch

from avrepro.features import ast_features
from avrepro.features.ast_features import (
    AUDIOSET_MEAN,
    AUDIOSET_STD,
    ast_input,
    build_ast,
    extract_shard,
    kaldi_fbank,
    read_ast_store,
)
from avrepro.models.ast import AST, ASTConfig

TINY = ASTConfig(frames=100, dim=32, depth=2, heads=2)


def reference_signal() -> torch.Tensor:
    """0.25 s at 16 kHz: two tones, a chirp, a DC offset and a broadband term (so that no
    filter sits at the log floor, where float round-off decides)."""
    n = torch.arange(4000, dtype=torch.float64)
    t = n / 16_000
    x = (
        0.5 * torch.sin(2 * math.pi * 440 * t)
        + 0.25 * torch.sin(2 * math.pi * 3000 * t + 1.0)
        + 0.1 * torch.cos(2 * math.pi * (200 * t + 4000 * t * t))
        + 0.05
        + 0.02 * torch.sin(0.7 * n * n)
    )
    return x.float()


def test_fbank_matches_torchaudio():
    """The numbers are torchaudio 2.11.0's: its compliance/kaldi.py (pure torch) run on
    reference_signal() - its mean with the options of AST's dataloader (htk_compat=True,
    use_energy=False, window_type='hanning', num_mel_bins=128, dither=0.0, frame_shift=10).
    Our version differs by < 1e-4 over the whole (23, 128) output (its filters are built in
    float32, ours in float64)."""
    x = reference_signal()
    fbank = kaldi_fbank(x - x.mean())
    assert fbank.shape == (23, 128)  # 1 + (4000 - 400) // 160 frames
    points = {
        (0, 0): -10.58351, (0, 127): -0.61999, (3, 10): -8.52211, (7, 40): 1.59449,
        (11, 64): -4.39702, (15, 100): -1.27375, (22, 5): -13.43191, (22, 127): -0.62511,
    }
    for (i, j), want in points.items():
        assert fbank[i, j].item() == pytest.approx(want, abs=2e-4), (i, j)
    row_sums = [-408.6683, -445.6111, -454.2234, -441.8491, -432.0814, -409.26, -413.1845]
    np.testing.assert_allclose(fbank.sum(1)[:7].numpy(), row_sums, atol=5e-3)
    column_sums = [-257.0505, -148.1284, -132.1948, -101.3801, -68.0839, -60.5288, -42.9143,
                   -22.6262]
    np.testing.assert_allclose(fbank.sum(0)[::16].numpy(), column_sums, atol=5e-3)


def test_a_tone_lands_in_its_mel_filter():
    t = np.arange(16_000) / 16_000
    fbank = kaldi_fbank(torch.from_numpy(np.sin(2 * np.pi * 1000 * t)).float())
    banks = ast_features.mel_banks(128, 512, 16_000)  # (128, 257)
    peak = int(fbank.mean(0).argmax())
    # the filter of the highest energy is one whose triangle covers the FFT bin of 1 kHz
    assert banks[peak, round(1000 / 16_000 * 512)] > 0.5
    assert banks.shape == (128, 257) and torch.all(banks[:, -1] == 0)


def test_ast_input_pads_cuts_and_normalises():
    ten_seconds = np.random.default_rng(0).uniform(-0.5, 0.5, 160_000).astype(np.float32)
    x = ast_input(ten_seconds, frames=1024)
    assert x.shape == (1024, 128)
    # 998 real frames, then AST's zero padding, normalised with AudioSet's statistics
    padding = (0 - AUDIOSET_MEAN) / (2 * AUDIOSET_STD)
    assert torch.allclose(x[998:], torch.full((26, 128), padding))
    assert not torch.allclose(x[997], torch.full((128,), padding))
    cut = ast_input(ten_seconds, frames=300)
    torch.testing.assert_close(cut, x[:300])


def write_wav(path, samples):
    soundfile.write(path, np.asarray(samples, np.float32), 16_000, subtype="PCM_16")


@pytest.fixture
def audio_shard(tmp_path):
    """An audio shard as the media stage writes it: WAVs + index.csv."""
    rng = np.random.default_rng(0)
    shard = tmp_path / "shard-0"
    shard.mkdir()
    for name in ("a", "b", "c"):
        write_wav(shard / f"{name}.wav", 0.3 * rng.standard_normal(12_000))
    write_wav(shard / "zeros.wav", np.zeros(16_000))  # silent, though the index missed it
    write_wav(shard / "short.wav", 0.3 * rng.standard_normal(200))  # < one 25-ms frame
    (shard / "broken.wav").write_bytes(b"RIFF but not a WAV")
    index = [
        ("a", "ok", 12_000, False), ("nosound", "no_audio", 0, False),
        ("b", "ok", 12_000, False), ("flagged", "ok", 16_000, True),
        ("zeros", "ok", 16_000, False), ("short", "ok", 200, False),
        ("broken", "ok", 100, False), ("c", "ok", 12_000, False),
        ("gone", "skipped", 0, False),
    ]
    pd.DataFrame(index, columns=["clip_id", "audio_status", "n_samples", "silent"]).assign(
        reason=""
    ).to_csv(shard / "index.csv", index=False)
    return shard


@pytest.fixture
def tiny_model(tmp_path):
    torch.manual_seed(0)
    torch.save(AST(TINY).state_dict(), tmp_path / "ast.pt")
    return build_ast(TINY, tmp_path / "ast.pt")


def test_extract_shard(audio_shard, tiny_model, tmp_path):
    out = tmp_path / "store" / "shard-0.npz"
    counts = extract_shard(audio_shard, tiny_model, out, batch_size=2, device="cpu")
    assert counts == {"ok": 3, "no_audio": 1, "silent": 2, "too short": 1, "undecodable": 1,
                      "skipped": 1}
    store = read_ast_store([out])
    assert list(store["clip_id"]) == [
        "a", "nosound", "b", "flagged", "zeros", "short", "broken", "c", "gone"
    ]
    with_audio = store["clip_id"][store["has_audio"]]
    assert list(with_audio) == ["a", "b", "c"]
    assert store["embedding"].shape == (9, 32) and store["embedding"].dtype == np.float32
    assert store["probs"].shape == (9, 527) and store["probs"].dtype == np.float32
    assert not store["embedding"][~store["has_audio"]].any()
    assert not store["probs"][~store["has_audio"]].any()
    # each clip's row is AST run on that clip alone (batching changes nothing)
    samples, _ = soundfile.read(audio_shard / "b.wav", dtype="float32")
    with torch.no_grad():
        embedding, logits = tiny_model(ast_input(samples, TINY.frames)[None])
    np.testing.assert_allclose(store["embedding"][2], embedding[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(store["probs"][2], torch.sigmoid(logits)[0].numpy(), atol=1e-6)


def test_store_of_a_shard_without_audio(tmp_path, tiny_model):
    shard = tmp_path / "shard-1"
    shard.mkdir()
    pd.DataFrame({"clip_id": ["x"], "audio_status": ["no_audio"], "n_samples": [0],
                  "silent": [False], "reason": [""]}).to_csv(shard / "index.csv", index=False)
    extract_shard(shard, tiny_model, tmp_path / "s.npz", batch_size=4, device="cpu")
    store = read_ast_store([tmp_path / "s.npz"])
    assert store["embedding"].shape == (1, 32) and not store["has_audio"].any()


def test_wrong_sample_rate_is_an_error(audio_shard, tiny_model, tmp_path):
    soundfile.write(audio_shard / "a.wav", np.zeros(8000, np.float32) + 0.1, 8000)
    with pytest.raises(ValueError, match="16000 Hz"):
        extract_shard(audio_shard, tiny_model, tmp_path / "s.npz", batch_size=2, device="cpu")


def test_read_ast_store_concatenates_and_checks(tmp_path):
    for i in range(2):
        ast_features.write_ast_shard(
            tmp_path / f"shard-{i}.npz", [f"c{i}"], np.full((1, 4), i), np.zeros((1, 527)),
            np.array([True]),
        )
    store = read_ast_store([tmp_path / "shard-0.npz", tmp_path / "shard-1.npz"])
    assert list(store["clip_id"]) == ["c0", "c1"] and store["embedding"][1, 0] == 1.0
    np.savez(tmp_path / "other.npz", clip_id=np.array(["x"]), features=np.zeros((1, 4)))
    with pytest.raises(ValueError, match="not an AST store"):
        read_ast_store([tmp_path / "other.npz"])
    with pytest.raises(ValueError, match="unequal"):
        ast_features.write_ast_shard(
            tmp_path / "bad.npz", ["a", "b"], np.zeros((1, 4)), np.zeros((1, 527)),
            np.array([True]),
        )
