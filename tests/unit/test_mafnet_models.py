"""MAFnet and its baselines: layer sizes as printed (MAFnet §3, §4.3; Tian et al. 2018;
Long et al. 2018), the attention normalisations of Eq. 2/5/9, FiLM (Eq. 12), and every
ablation configuration of Tables 2-4."""

from pathlib import Path

import pytest
import torch
from torch import nn

from avrepro.models.attention_cluster import AttentionCluster, ShiftingAttentionCluster
from avrepro.models.dmrn import DMRN, AudioGuidedAttention, DualMultimodalResidual
from avrepro.models.mafnet import MAFnet, ModalityTemporalAttention, ResidualBlock, check_config
from avrepro.models.mcb import CompactBilinearPooling, count_sketch, tensor_sketch
from avrepro.papers import load_metafile
from avrepro.train.mafnet import parse

REPO = Path(__file__).resolve().parents[2]
AVE_CLASSES, T = 28, 10
# The paper's features: DenseNet-201 7x7x1920 and VGGish 12x8x512 per window (§4.2).
VISUAL, AUDIO = (1920, 7, 7), (512, 12, 8)
# Small stand-ins for the configuration sweeps.
SMALL = {"visual_dim": 12, "audio_dim": 8, "hidden": 16, "mcb_dim": 64}


def features(b=2, t=T, visual=VISUAL, audio=AUDIO, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, t, *audio, generator=g), torch.rand(b, t, *visual, generator=g)


def small_features(b=3, t=4, seed=0):
    return features(b, t, (12, 3, 3), (8, 2, 2), seed)


def linear_shape(layer: nn.Linear) -> tuple[int, int]:
    return layer.in_features, layer.out_features


def test_full_mafnet_has_the_papers_sizes():
    model = MAFnet(AVE_CLASSES)  # concat, modality & temporal attention, FiLM in audio path
    audio, visual = model.audio, model.visual
    # Residual block of 512 filters on the 512 conv4_2 maps (§4.3, Fig. 4).
    assert (audio.block.conv1.in_channels, audio.block.conv1.out_channels) == (512, 512)
    assert audio.block.conv1.kernel_size == (1, 1) and audio.block.conv2.kernel_size == (3, 3)
    assert audio.block.conv2.out_channels == 512 and audio.block.bn.num_features == 512
    # gamma and beta of the 512 maps from the window's pooled 1920 visual features (Eq. 11).
    assert linear_shape(audio.film.dense) == (1920, 2 * 512)
    # "a dense layer in the path of each modality", 512 units, batch norm after (§3.4, §4.3).
    assert linear_shape(audio.dense) == (512, 512) and linear_shape(visual.dense) == (1920, 512)
    assert audio.bn.num_features == visual.bn.num_features == 512
    assert visual.block is None and visual.film is None  # vision conditions audio only
    score = model.attention.score
    assert linear_shape(score[0]) == (512, 512) and linear_shape(score[2]) == (512, 1)
    assert linear_shape(model.head) == (2 * 512, AVE_CLASSES)  # concat of K = 2 modalities
    assert model.needs_maps == {"audio": True, "visual": False}

    audio_maps, visual_maps = features()
    logits = model(audio_maps, visual_maps)
    assert logits.shape == (2, AVE_CLASSES)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("mode", ["none", "temp", "mod", "both"])
def test_attention_weights_are_normalised_as_the_equations_say(mode):
    torch.manual_seed(0)
    attention = ModalityTemporalAttention(dim=6, hidden=8, mode=mode)
    weights = attention(torch.randn(3, 5, 2, 6))  # (B, T, K, D)
    assert weights.shape == (3, 5, 2) and (weights >= 0).all()
    ones = torch.ones(3)
    if mode == "both":  # Eq. 9: one softmax over all T x K
        torch.testing.assert_close(weights.sum((1, 2)), ones)
        assert weights.std() > 0
    elif mode == "temp":  # Eq. 2: over the windows, per modality
        torch.testing.assert_close(weights.sum(1), torch.ones(3, 2))
    elif mode == "mod":  # Eq. 5: over the modalities, per window, then averaged over time
        torch.testing.assert_close(weights.sum(2), torch.full((3, 5), 1 / 5))
    else:
        torch.testing.assert_close(weights, torch.full((3, 5, 2), 1 / 5))
        assert attention.score is None


def test_fused_feature_is_eq_10():
    torch.manual_seed(0)
    model = MAFnet(5, film="none", **SMALL).eval()
    audio, visual = small_features()
    x = model.paths(audio, visual)  # (B, T, K, hidden), visual first
    weights = model.attention(x)
    expected = torch.cat([(weights[..., k, None] * x[:, :, k]).sum(1) for k in range(2)], dim=1)
    captured = {}
    model.head.register_forward_hook(lambda m, inputs, out: captured.update(o=inputs[0]))
    model(audio, visual)
    torch.testing.assert_close(captured["o"], expected)


def test_film_with_identity_parameters_is_the_plain_block_and_otherwise_modulates():
    torch.manual_seed(0)
    block = ResidualBlock(8, 16).eval()
    x = torch.randn(4, 8, 3, 3)
    identity = (torch.ones(4, 16), torch.zeros(4, 16))
    torch.testing.assert_close(block(x, identity), block(x))
    gamma, beta = torch.full((4, 16), 2.0), torch.full((4, 16), 0.5)
    res, before, after = block.modulate(x, (gamma, beta))
    torch.testing.assert_close(after, 2.0 * before + 0.5)  # Eq. 12
    torch.testing.assert_close(block(x, (gamma, beta)), torch.relu(after) + res)


def test_untrained_film_generator_starts_at_gamma_one():
    model = MAFnet(5, **SMALL)
    nn.init.zeros_(model.audio.film.dense.weight)
    nn.init.zeros_(model.audio.film.dense.bias)
    gamma, beta = model.audio.film(torch.randn(3, 12))
    torch.testing.assert_close(gamma, torch.ones(3, 16))
    torch.testing.assert_close(beta, torch.zeros(3, 16))


@pytest.mark.parametrize(("film", "audio_sees_vision", "vision_sees_audio"),
                         [("audio", True, False), ("visual", False, True), ("both", True, True),
                          ("res", False, False), ("none", False, False)])
def test_the_lateral_connection_runs_where_film_says(film, audio_sees_vision, vision_sees_audio):
    torch.manual_seed(0)
    model = MAFnet(5, film=film, **SMALL).eval()
    audio, visual = small_features()
    other_audio, other_visual = small_features(seed=1)
    x = model.paths(audio, visual)  # (B, T, K, hidden): k = 0 visual, 1 audio
    changed_vision = model.paths(audio, other_visual)
    changed_audio = model.paths(other_audio, visual)
    assert (not torch.allclose(x[:, :, 1], changed_vision[:, :, 1])) == audio_sees_vision
    assert (not torch.allclose(x[:, :, 0], changed_audio[:, :, 0])) == vision_sees_audio
    blocks = {"audio": model.audio.block is not None, "visual": model.visual.block is not None}
    assert model.needs_maps == blocks
    assert blocks == {"audio": film in ("audio", "both", "res"),
                      "visual": film in ("visual", "both", "res")}


def test_paths_without_a_block_accept_pooled_features():
    torch.manual_seed(0)
    model = MAFnet(5, film="none", **SMALL).eval()
    audio, visual = small_features()
    torch.testing.assert_close(model(audio, visual),
                               model(audio.mean((-2, -1)), visual.mean((-2, -1))))
    with pytest.raises(ValueError, match="feature maps"):
        MAFnet(5, film="audio", **SMALL)(audio.mean((-2, -1)), visual)


def ablation_variants() -> list[str]:
    meta = load_metafile(REPO / "workflow" / "papers" / "mafnet.yaml")
    return [v for key in ("table2", "table3", "table4") for v in meta.tables[key].variants()]


@pytest.mark.parametrize("variant", ablation_variants())
def test_every_ablation_row_is_one_configuration_that_trains(variant):
    v = parse(variant)
    torch.manual_seed(0)
    model = MAFnet(5, fusion=v.fusion, attention=v.attention, film=v.film, **SMALL)
    audio, visual = small_features()
    logits = model(audio, visual)
    assert logits.shape == (3, 5)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters()), variant
    paths = (model.visual is not None, model.audio is not None)
    assert paths == {"visual": (True, False), "audio": (False, True)}.get(v.fusion, (True, True))


def test_fusion_output_widths():
    widths = {"visual": 16, "audio": 16, "add": 16, "concat": 32, "mcb": 64, "dmr": 16}
    for fusion, width in widths.items():
        attention = "temp" if fusion in ("visual", "audio") else "both"
        film = "none" if fusion in ("visual", "audio") else "audio"
        model = MAFnet(5, fusion=fusion, attention=attention, film=film, **SMALL)
        assert model.head.in_features == width, fusion


@pytest.mark.parametrize(("fusion", "attention", "film"),
                         [("visual", "both", "none"), ("audio", "temp", "audio"),
                          ("sum", "both", "audio"), ("concat", "spatial", "audio"),
                          ("concat", "both", "top")])
def test_configurations_no_row_uses_are_refused(fusion, attention, film):
    with pytest.raises(ValueError):
        check_config(fusion, attention, film)


def test_film_embeddings_before_and_after_film():
    torch.manual_seed(0)
    model = MAFnet(5, **SMALL).eval()
    audio, visual = small_features()
    before, after = model.film_embeddings(audio, visual)
    assert before.shape == after.shape == (3, 4, 16)
    assert not torch.allclose(before, after)
    with pytest.raises(ValueError, match="no FiLM in its audio path"):
        MAFnet(5, film="visual", **SMALL).film_embeddings(audio, visual)


def test_tensor_sketch_is_the_count_sketch_of_the_outer_product():
    torch.manual_seed(0)
    d = 7
    x, y = torch.randn(2, 4), torch.randn(2, 3)
    h1, h2 = torch.randint(d, (4,)), torch.randint(d, (3,))
    s1, s2 = torch.randint(2, (4,)) * 2.0 - 1, torch.randint(2, (3,)) * 2.0 - 1
    outer = (x[:, :, None] * y[:, None, :]).flatten(1)  # (2, 12)
    h = ((h1[:, None] + h2[None, :]) % d).flatten()
    s = (s1[:, None] * s2[None, :]).flatten()
    torch.testing.assert_close(tensor_sketch(x, y, h1, s1, h2, s2, d), count_sketch(outer, h, s, d),
                               rtol=1e-5, atol=1e-5)


def test_mcb_is_unit_norm_and_reloads_the_same_projection():
    torch.manual_seed(0)
    mcb = CompactBilinearPooling(16, 16, 256)
    x, y = torch.randn(3, 16), torch.randn(3, 16)
    z = mcb(x, y)
    assert z.shape == (3, 256)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(3))
    other = CompactBilinearPooling(16, 16, 256)
    assert not torch.allclose(other(x, y), z)  # a new draw projects elsewhere
    other.load_state_dict(mcb.state_dict())  # the hashes are saved with the model
    torch.testing.assert_close(other(x, y), z)


def test_dmr_block_is_tian_et_als_equation():
    torch.manual_seed(0)
    dmr = DualMultimodalResidual(6)
    a, v = torch.randn(2, 6), torch.randn(2, 6)
    merged = 0.5 * (dmr.u_audio(a) + dmr.u_visual(v))
    expected = 0.5 * (torch.tanh(a + merged) + torch.tanh(v + merged))
    torch.testing.assert_close(dmr(a, v), expected)
    assert linear_shape(dmr.u_audio[0]) == (6, 6) and isinstance(dmr.u_audio[1], nn.Tanh)


def test_dmrn_on_mafnet_features():
    model = DMRN(AVE_CLASSES)
    # Tian et al.: Bi-LSTMs of 128 units a direction, one DMR block on their 256 outputs.
    assert model.lstm_audio.hidden_size == model.lstm_visual.hidden_size == 128
    assert model.lstm_audio.bidirectional and model.lstm_visual.input_size == 1920
    assert model.lstm_audio.input_size == 512
    assert linear_shape(model.head) == (256, AVE_CLASSES)
    assert linear_shape(model.attention.u_visual) == (1920, 512)
    audio, visual = features(b=2, t=3)
    assert model(audio, visual).shape == (2, AVE_CLASSES)
    with pytest.raises(ValueError, match="visual feature maps"):
        model(audio, visual.mean((-2, -1)))


def test_audio_guided_attention_is_a_convex_combination_of_regions():
    torch.manual_seed(0)
    attention = AudioGuidedAttention(visual_dim=5, audio_dim=3, hidden=8, k=4)
    same = torch.randn(2, 3, 1, 5).expand(2, 3, 9, 5)  # 9 identical regions
    torch.testing.assert_close(attention(same, torch.randn(2, 3, 3)), same[:, :, 0])
    regions = torch.randn(2, 3, 9, 5)
    out = attention(regions, torch.randn(2, 3, 3))
    assert (out <= regions.max(2).values + 1e-6).all()
    assert (out >= regions.min(2).values - 1e-6).all()


def test_attention_cluster_shapes_and_unit_norm_clusters():
    model = AttentionCluster(AVE_CLASSES, units=4)
    assert model.head.in_features == 4 * (1920 + 512)
    assert linear_shape(model.visual.scores) == (1920, 4) and model.dropout.p == 0.5
    audio, visual = features(b=2, t=3)
    assert model(audio, visual).shape == (2, AVE_CLASSES)
    cluster = ShiftingAttentionCluster(dim=6, units=4)
    out = cluster(torch.randn(3, 5, 6))
    assert out.shape == (3, 24)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(3))  # 4 units of norm 1/2 each
