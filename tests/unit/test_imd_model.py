"""IMD's network (Alfasly et al. §3.2-3.5): the two-stream video transformer, the audio
bottleneck, the irrelevant modality dropout, Table 5's fusion baselines, Table 3's modality
subsets, the B/L presets and the FLOP count of Table 6. Tiny sizes: CPU, seconds."""

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from timm.models.vision_transformer import VisionTransformer
from torch import nn

from avrepro.models.flops import VIEWS, Cost, count_flops, model_cost, view_inputs
from avrepro.models.imd import (
    FUSIONS,
    GMUFusion,
    IMDConfig,
    IMDNet,
    NLGateFusion,
    count_parameters,
    modality_gate,
)

TINY = IMDConfig(num_classes=5, image_size=32, patch=8, frames=4, dim=32, depth=3, st_blocks=2,
                 heads=2, audio_dim=24)
B = 2


def inputs(cfg: IMDConfig, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shapes = {"rgb": (B, cfg.frames, 3, cfg.image_size, cfg.image_size),
              "flow": (B, cfg.frames, 2, cfg.image_size, cfg.image_size),
              "audio": (B, cfg.audio_dim)}
    return {m: torch.randn(shapes[m], generator=g) for m in cfg.modalities}


def tiny(seed: int = 0, **overrides) -> IMDNet:
    torch.manual_seed(seed)
    return IMDNet(replace(TINY, **overrides)).eval()


# --- Table 3's modality subsets and Table 5's fusions ------------------------------------


SUBSETS = [("audio",), ("rgb",), ("flow",), ("rgb", "flow"), ("audio", "rgb"),
           ("audio", "flow"), ("audio", "rgb", "flow")]


# Every Table 3 subset with IMD; every Table 5 fusion on the full model (the fusion is unused
# without both audio and a visual stream).
@pytest.mark.parametrize(("modalities", "fusion"),
                         [(m, "imd") for m in SUBSETS] +
                         [(SUBSETS[-1], f) for f in FUSIONS if f != "imd"])
def test_every_subset_and_fusion_gives_logits_and_relevance_only_with_imd(modalities, fusion):
    model = tiny(modalities=modalities, fusion=fusion)
    with torch.no_grad():
        out = model(**inputs(model.cfg))
    assert out.logits.shape == (B, 5) and torch.isfinite(out.logits).all()
    bimodal = "audio" in modalities and len(modalities) > 1
    if bimodal and fusion == "imd":
        assert out.relevance.shape == (B,) and ((out.relevance > 0) & (out.relevance < 1)).all()
        torch.testing.assert_close(out.relevance, torch.sigmoid(out.relevance_logit))
    else:
        assert out.relevance is None and out.relevance_logit is None
    # Only the pieces a subset needs exist (no unused parameters for DDP to complain about).
    assert set(model.streams) == {m for m in modalities if m != "audio"}
    assert hasattr(model, "visual_fusion") == ({"rgb", "flow"} <= set(modalities))
    assert hasattr(model, "bottleneck") == ("audio" in modalities)


def test_every_parameter_gets_a_gradient_in_the_full_imd_model():
    model = tiny(alpha=0.0).train()  # α = 0 keeps the audio: every path is used
    out = model(**inputs(model.cfg))
    target = torch.rand(B)
    loss = F.cross_entropy(out.logits, torch.tensor([0, 3])) + \
        F.binary_cross_entropy_with_logits(out.relevance_logit, target)
    loss.backward()
    # temporal_fc starts at zero (TimeSformer), so the temporal attention and LN behind it
    # get no gradient on the first step; everything else does, temporal_fc included.
    behind_lr = (".temporal_attn.", ".temporal_norm1.")
    silent = [n for n, p in model.named_parameters()
              if (p.grad is None or not p.grad.any()) and not any(s in n for s in behind_lr)]
    assert silent == []


def test_wrong_inputs_and_configs_are_refused():
    model = tiny(modalities=("audio", "rgb"))
    x = inputs(model.cfg)
    with pytest.raises(ValueError, match="got flow input"):
        model(**x, flow=torch.zeros(B, 4, 2, 32, 32))
    with pytest.raises(ValueError, match="no audio input"):
        model(rgb=x["rgb"])
    with pytest.raises(ValueError, match="expected 4 frames"):
        model(rgb=x["rgb"][:, :2], audio=x["audio"])
    for bad in (dict(fusion="sum"), dict(scheme="soft"), dict(modalities=("depth",)),
                dict(modalities=()), dict(image_size=30), dict(st_blocks=4), dict(heads=3)):
        with pytest.raises(ValueError):
            replace(TINY, **bad)


# --- IMD (Eqs. 4-8) ----------------------------------------------------------------------


def test_gate_masks_below_alpha_and_weights_otherwise_with_gradient_only_where_kept():
    rev = torch.tensor([0.1, 0.25, 0.6, 0.9], requires_grad=True)
    delta = modality_gate(rev, alpha=0.25, scheme="mask")
    torch.testing.assert_close(delta, torch.tensor([0.0, 0.25, 0.6, 0.9]))
    delta.sum().backward()
    torch.testing.assert_close(rev.grad, torch.tensor([0.0, 1.0, 1.0, 1.0]))
    torch.testing.assert_close(modality_gate(rev, 0.25, "weight"), rev)


def test_masked_audio_cannot_change_the_prediction_and_kept_audio_does():
    x = inputs(TINY)
    other_audio = torch.randn(B, TINY.audio_dim)
    with torch.no_grad():
        dropped = tiny(alpha=1.01)  # rev < 1 always: audio always masked (δ = 0)
        a = dropped(**x).logits
        b = dropped(**{**x, "audio": other_audio}).logits
        torch.testing.assert_close(a, b)
        # Only the RN sees a different audio: the relevance moves, the logits do not.
        kept = tiny(alpha=0.0)
        assert not torch.allclose(kept(**x).logits, kept(**{**x, "audio": other_audio}).logits)


def test_classification_loss_reaches_the_relevance_network_through_the_mask():
    for alpha, reaches in ((0.0, True), (1.01, False)):
        model = tiny(alpha=alpha).train()
        F.cross_entropy(model(**inputs(model.cfg)).logits, torch.tensor([1, 2])).backward()
        grad = model.fusion.rn.head.weight.grad
        assert (grad is not None and grad.abs().sum() > 0) == reaches


def test_baselines_follow_their_papers():
    cfg = replace(TINY, fusion="gmu")
    gmu = GMUFusion(cfg)
    a, v = torch.randn(B, cfg.dim), torch.randn(B, cfg.dim)
    z = torch.sigmoid(gmu.wz(torch.cat([a, v], 1)))
    expected = z * torch.tanh(gmu.wv(v)) + (1 - z) * torch.tanh(gmu.wa(a))
    torch.testing.assert_close(gmu(a, v), expected)
    # The NL gate starts as the identity on the visual embedding (non-local blocks' init) ...
    nl = tiny(fusion="nl").fusion
    assert isinstance(nl, NLGateFusion)
    torch.testing.assert_close(nl(a, v), v)
    # ... and, once trained, mixes in audio.
    nn.init.normal_(nl.out.weight)
    assert not torch.allclose(nl(a, v), nl(torch.randn_like(a), v))
    assert tiny(fusion="avc").head[0].normalized_shape == (128,)  # L3-Net's 128-d fc


# --- the visual stream (§3.2) --------------------------------------------------------------


def test_space_time_blocks_start_as_frame_order_blind_and_learn_order():
    model = tiny(modalities=("rgb",))
    x = inputs(model.cfg)["rgb"]
    shuffled = x[:, torch.tensor([2, 0, 3, 1])]
    with torch.no_grad():
        # Zero temporal embedding and zero LR: frames are a set, the CLS averages over them.
        torch.testing.assert_close(model(rgb=x).logits, model(rgb=shuffled).logits)
        stream = model.streams["rgb"]
        nn.init.normal_(stream.blocks[-1].temporal_fc.weight, std=0.1)
        nn.init.normal_(stream.time_embed, std=0.1)
        assert not torch.allclose(model(rgb=x).logits, model(rgb=shuffled).logits)


@pytest.mark.parametrize("size", ["B", "L"])
def test_presets_are_vit_b16_and_vit_l16_plus_the_temporal_parts(size):
    cfg = IMDConfig.preset(size, 400, modalities=("rgb",))
    width, depth = {"B": (768, 12), "L": (1024, 24)}[size]
    assert (cfg.dim, cfg.depth, cfg.st_blocks, cfg.patch, cfg.frames) == (width, depth, 2, 16, 8)
    with torch.device("meta"):
        vit = VisionTransformer(embed_dim=width, depth=depth, num_heads=cfg.heads, num_classes=0)
    vit_params = sum(p.numel() for p in vit.parameters())
    # per space-time block: its LN, attention and LR; plus the (T, D) temporal embedding
    temporal = cfg.st_blocks * (2 * width + 4 * width * width + 4 * width + width * width + width)
    head = 2 * width + width * width + width + width * 400 + 400  # Eq. 9: LN, FC, FC
    assert count_parameters(cfg) == vit_params + temporal + cfg.frames * width + head
    full = IMDConfig.preset(size, 400)
    assert count_parameters(full) > 2 * count_parameters(cfg)
    assert IMDConfig.preset(size, 400, frames=16).frames == 16


# --- FLOPs (Table 6) -------------------------------------------------------------------------


def test_flop_count_is_twice_the_multiply_adds_and_meta_equals_a_real_run():
    assert count_flops(nn.Linear(10, 3), {"input": torch.zeros(4, 10)}) == 2 * 4 * 10 * 3
    model = tiny()
    real = count_flops(model, view_inputs(model.cfg, device="cpu"))
    assert real == model_cost(model.cfg).flops_per_view > 0
    cost = Cost(real)
    assert VIEWS == 12
    assert cost.per_video() == pytest.approx(12 * real / 2e9)
    assert cost.per_video(3, macs=False) == pytest.approx(3 * real / 1e9)
