"""Lee et al.'s sound-feature generators (§2.1-2.2): shapes, variable lengths, the
autoencoder's random frame, and the two reconstruction losses."""

import pytest
import torch
from torch import nn

from avrepro.models.audiogen import (
    AEGenerator,
    LSTMGenerator,
    SoundTarget,
    random_frames,
)


def clips(batch=3, length=5, dim=4, seed=0, padding=100.0):
    """rgb, flow (B, T, dim) with n_valid (B,); frames past n_valid hold `padding`, which
    must never reach an output."""
    g = torch.Generator().manual_seed(seed)
    rgb, flow = torch.randn(batch, length, dim, generator=g), torch.randn(batch, length, dim,
                                                                         generator=g)
    n_valid = torch.tensor([length, 2, 1][:batch])
    pad = torch.arange(length)[None, :] >= n_valid[:, None]
    rgb[pad], flow[pad] = padding, -padding
    return rgb, flow, n_valid


# --- shapes as in the paper ------------------------------------------------------------

@pytest.mark.parametrize("cls", [LSTMGenerator, AEGenerator])
@pytest.mark.parametrize("sound_dim", [1024, 384])  # AENet; VGGish (3, 128) flattened
def test_paper_shapes(cls, sound_dim):
    torch.manual_seed(0)
    rgb, flow, n_valid = clips(batch=2, length=3, dim=1024)  # TSN's BN-Inception features
    model = cls(2048, sound_dim, 200, "l2")  # 200 Moments in Time classes
    for train in (True, False):
        model.train(train)
        logits, r = model(rgb.half(), flow.half(), n_valid, generator=torch.Generator())
        assert logits.shape == (2, 200) and r.shape == (2, sound_dim)
    assert model.sound(rgb, flow, n_valid).shape == (2, sound_dim)
    assert not model.training


@pytest.mark.parametrize("cls", [LSTMGenerator, AEGenerator])
def test_without_classifier_there_are_no_logits_and_no_w_p(cls):
    model = cls(8, 6, None, "kl", 16, dropout=0.0)
    logits, r = model(*clips(), generator=torch.Generator())
    assert logits is None and r.shape == (3, 6)
    assert model.classifier is None
    assert not any("classifier" in name for name in model.state_dict())


def test_default_sizes_are_the_documented_choices():
    lstm = LSTMGenerator(2048, 1024, 200, "l2")
    ae = AEGenerator(2048, 384, 200, "l2")
    assert (lstm.lstm.input_size, lstm.lstm.hidden_size, lstm.lstm.num_layers) == (2048, 1024, 1)
    assert lstm.classifier.in_features == 1024 and lstm.reconstruct.in_features == 1024
    assert [m.out_features for m in ae.encoder if isinstance(m, nn.Linear)] == [1024, 512]
    assert ae.classifier.in_features == 512  # W_p on the latent l (Eq. 6)
    assert ae.reconstruct.in_features == 1024  # W_r on the decoder's x


# --- LSTM: the last valid step ------------------------------------------------------------

def test_lstm_takes_each_clips_last_valid_hidden_state():
    torch.manual_seed(0)
    model = LSTMGenerator(8, 6, 5, "l2", hidden=7, dropout=0.0).eval()
    rgb, flow, n_valid = clips()
    logits, r = model(rgb, flow, n_valid)
    for i, n in enumerate(n_valid.tolist()):
        alone = model(rgb[i:i + 1, :n], flow[i:i + 1, :n], torch.tensor([n]))
        torch.testing.assert_close(logits[i], alone[0][0])
        torch.testing.assert_close(r[i], alone[1][0])
    # The same as packing the sequences: h_n of the last layer.
    v = torch.cat([rgb, flow], -1)
    packed = nn.utils.rnn.pack_padded_sequence(v, n_valid, batch_first=True,
                                               enforce_sorted=False)
    _, (h_n, _) = model.lstm(packed)
    torch.testing.assert_close(r, model.reconstruct(h_n[-1]))


# --- autoencoder: the random frame, and test time --------------------------------------

def test_random_frames_are_valid_uniform_and_replay():
    n_valid = torch.tensor([5, 2, 1] * 400)
    a = random_frames(n_valid, torch.Generator().manual_seed(4))
    b = random_frames(n_valid, torch.Generator().manual_seed(4))
    c = random_frames(n_valid, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert ((a >= 0) & (a < n_valid)).all()
    counts = torch.bincount(a[n_valid == 5], minlength=5)
    assert (counts > 400 / 5 * 0.6).all()  # every valid frame is drawn, about equally


def test_ae_training_encodes_the_frame_the_epoch_generator_draws():
    torch.manual_seed(0)
    model = AEGenerator(8, 6, 5, "l2", hidden=16, latent=4, dropout=0.0).train()
    rgb, flow, n_valid = clips()
    logits, r = model(rgb, flow, n_valid, generator=torch.Generator().manual_seed(9))
    again = model(rgb, flow, n_valid, generator=torch.Generator().manual_seed(9))
    torch.testing.assert_close(r, again[1])
    t = random_frames(n_valid, torch.Generator().manual_seed(9))
    frame = torch.cat([rgb, flow], -1)[torch.arange(3), t]  # (B, 8)
    expected_logits, expected_r = model.heads(frame)
    torch.testing.assert_close(logits, expected_logits)
    torch.testing.assert_close(r, expected_r)
    assert r.abs().max() < 50  # the padding (+-100) was never encoded


def test_ae_test_time_averages_the_heads_over_the_valid_frames():
    torch.manual_seed(0)
    model = AEGenerator(8, 6, 5, "l2", hidden=16, latent=4).eval()
    rgb, flow, n_valid = clips()
    logits, r = model(rgb, flow, n_valid)
    v = torch.cat([rgb, flow], -1)
    for i, n in enumerate(n_valid.tolist()):
        frame_logits, frame_r = model.heads(v[i, :n])
        torch.testing.assert_close(logits[i], frame_logits.mean(0))
        torch.testing.assert_close(r[i], frame_r.mean(0))


# --- the reconstruction losses ---------------------------------------------------------

def features(n=64, dim=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, dim, generator=g) * torch.tensor([1.0, 10, 100, 255, 0.1])


def test_l2_is_standardised_mse_and_maps_back_to_the_feature_scale():
    x = features()
    target = SoundTarget("l2", 5).fit(x)
    z = (x - x.mean(0)) / x.std(0, correction=0)
    assert target.loss(z, x) == pytest.approx(0, abs=1e-10)
    torch.testing.assert_close(target.feature(z), x)
    # Predicting the mean costs 1 per dimension, whatever the feature's scale.
    assert target.loss(torch.zeros_like(x), x) == pytest.approx(1, rel=1e-5)
    torch.testing.assert_close(target.feature(torch.zeros(1, 5)), x.mean(0, keepdim=True))


def test_kl_reads_features_as_distributions_and_restores_their_mean_sum():
    x = features()
    target = SoundTarget("kl", 5).fit(x)
    p = x / x.sum(1, keepdim=True)
    assert target.loss(torch.log(p), x) == pytest.approx(0, abs=1e-6)
    assert target.loss(torch.zeros_like(x), x) > 0.1
    # KL(p || q) = sum p log(p / q), batch mean
    q = torch.softmax(torch.randn(64, 5), 1)
    expected = (p * (torch.log(p) - torch.log(q))).sum(1).mean()
    torch.testing.assert_close(target.loss(torch.log(q), x), expected)
    generated = target.feature(torch.log(p))
    torch.testing.assert_close(generated.sum(1), torch.full((64,), x.sum(1).mean().item()))
    torch.testing.assert_close(generated / generated.sum(1, keepdim=True), p)


def test_kl_refuses_negative_features_and_unknown_losses():
    with pytest.raises(ValueError, match="non-negative"):
        SoundTarget("kl", 2).fit(torch.tensor([[1.0, -0.5]]))
    with pytest.raises(ValueError, match="not one of"):
        SoundTarget("l1", 2)


def test_the_statistics_travel_with_the_state_dict():
    a = LSTMGenerator(8, 5, None, "l2", hidden=4)
    a.target.fit(features())
    b = LSTMGenerator(8, 5, None, "l2", hidden=4)
    b.load_state_dict(a.state_dict())
    torch.testing.assert_close(b.target.mean, a.target.mean)
    torch.testing.assert_close(b.target.std, a.target.std)
