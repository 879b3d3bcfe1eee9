"""Two-phase networks (Pham et al., §II, Figs. 1-3, Eqs. 1-3): shapes, sizes, fusion maths."""

import pytest
import torch
import torchvision

from avrepro.features.weights import WeightsError
from avrepro.models.twophase import (
    AUDIO_WIDTHS,
    Fusion,
    audio_branch,
    load_visual_weights,
    visual_backbone,
    visual_branch,
)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def aud():
    torch.manual_seed(0)
    return audio_branch().eval()


def test_audio_branch_on_a_full_ten_second_spectrogram(aud):
    """Fig. 2: (6, 128, T) spectrograms -> residual-inception -> FC(1024) -> FC(10); the
    full-size input (T = 711 frames for 10 s, see test_spectrograms) and its embeddings."""
    x = torch.randn(1, 6, 128, 711, dtype=torch.float16)  # the store keeps float16
    with torch.no_grad():
        features = aud.trunk(x)  # one pass through the trunk: the rest is the dense block
        fc1024, fc10 = aud.head.embeddings(features)
        logits = aud.head(features)
    assert features.shape == (1, AUDIO_WIDTHS[-1])
    assert fc1024.shape == (1, 1024) and fc10.shape == (1, 10)
    assert (fc1024 >= 0).all()  # FC(1024)'s output is after its ReLU
    torch.testing.assert_close(fc10, logits)  # FC(10) is the pre-softmax layer


def test_audio_branch_size_and_dense_block(aud):
    """§III-C: "3 residual-inception based models ... (36 M trainable parameters)", i.e.
    about 12 M each; ours (whose block widths the paper does not print) hold 9.9 M."""
    assert n_params(aud) == 9_944_214
    assert abs(n_params(aud) - 12e6) / 12e6 < 0.2
    assert (aud.head.fc1.in_features, aud.head.fc1.out_features) == (1024, 1024)
    assert (aud.head.fc2.in_features, aud.head.fc2.out_features) == (1024, 10)


def test_audio_branch_takes_small_inputs_and_other_widths():
    torch.manual_seed(0)
    small = audio_branch(widths=(8, 16), n_classes=3).eval()
    with torch.no_grad():
        assert small(torch.randn(2, 6, 5, 3)).shape == (2, 3)  # sides that pool to 1
    assert small.head.fc1.in_features == 16


def test_audio_branch_is_seeded():
    torch.manual_seed(4)
    a = audio_branch(widths=(8,))
    torch.manual_seed(4)
    b = audio_branch(widths=(8,))
    torch.manual_seed(5)
    c = audio_branch(widths=(8,))
    assert torch.equal(a.head.fc1.weight, b.head.fc1.weight)
    assert not torch.equal(a.head.fc1.weight, c.head.fc1.weight)


@pytest.fixture(scope="module")
def vis():
    torch.manual_seed(0)
    return {name: visual_branch(name).eval() for name in ("inception_v3", "convnext_tiny")}


@pytest.mark.parametrize(("name", "feature_dim", "trunk_params"), [
    # Keras' InceptionV3 / ConvNeXtTiny up to global pooling (Fig. 3); torchvision's have
    # the same layers (InceptionV3 without its auxiliary ImageNet classifier).
    ("inception_v3", 2048, 21_785_568),
    ("convnext_tiny", 768, 27_820_128),
])
def test_visual_branches(vis, name, feature_dim, trunk_params):
    branch = vis[name]
    assert n_params(visual_backbone(branch)) == trunk_params
    assert branch.head.fc1.in_features == feature_dim and branch.head.fc2.out_features == 10
    # Frames as the media stage stores them: uint8 RGB, channels last. 75 px is
    # InceptionV3's smallest input (the paper uses 224).
    frames = torch.randint(0, 256, (2, 75, 75, 3), dtype=torch.uint8)
    with torch.no_grad():
        features = branch.trunk(frames)
        fc1024, fc10 = branch.embeddings(frames)
        # mixup hands over float blends of the pixels: the same input space
        torch.testing.assert_close(branch.trunk(frames.float()), features)
    assert features.shape == (2, feature_dim) and fc1024.shape == (2, 1024)
    torch.testing.assert_close(fc10, branch.head(features))


def test_visual_preprocessing_matches_each_weights_convention(vis):
    white = torch.full((1, 4, 4, 3), 255, dtype=torch.uint8)
    inception = vis["inception_v3"].trunk[0](white)
    convnext = vis["convnext_tiny"].trunk[0](white)
    assert inception.shape == (1, 3, 4, 4)
    torch.testing.assert_close(inception, torch.ones_like(inception))  # [-1, 1] input
    expected = (1 - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225])
    torch.testing.assert_close(convnext[0, :, 0, 0], expected)


def test_unknown_visual_backbone():
    with pytest.raises(ValueError, match="known: inception_v3, convnext_tiny"):
        visual_branch("resnet50")


@pytest.mark.parametrize(("name", "published"), [
    # torchvision's files: the full ImageNet models (InceptionV3 with its aux classifier).
    ("inception_v3", lambda: torchvision.models.inception_v3(
        weights=None, aux_logits=True, init_weights=False)),
    ("convnext_tiny", lambda: torchvision.models.convnext_tiny(weights=None)),
])
def test_published_torchvision_files_load_into_the_visual_backbones(tmp_path, name, published):
    torch.manual_seed(1)
    state = published().state_dict()
    path = tmp_path / f"{name}.pth"
    torch.save(state, path)
    torch.manual_seed(2)
    branch = visual_branch(name)
    head_before = branch.head.fc1.weight.clone()
    load_visual_weights(branch, name, path)
    backbone = visual_backbone(branch).state_dict()
    for key, value in backbone.items():
        torch.testing.assert_close(value, state[key], msg=key)
    assert torch.equal(branch.head.fc1.weight, head_before)  # the dense block is ours

    torch.save({k: v for k, v in state.items() if "features.1." not in k
                and "Mixed_7c" not in k}, path)
    with pytest.raises(WeightsError, match=f"{name}.pth does not fit"):
        load_visual_weights(visual_branch(name), name, path)


# --- Phase II: Eqs. 1-3 ---------------------------------------------------------------

def embeddings(dim, n=5, batch=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, dim, generator=g) for _ in range(n)]


def randomise(fusion, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in fusion.parameters():
            p.copy_(torch.randn(p.shape, generator=g))


def test_f1_and_f4_are_a_weighted_sum_plus_bias():
    """Eq. 1: f = ae_g.w1 + ae_m.w2 + ae_c.w3 + ve_i.w4 + ve_c.w5 + b (element-wise)."""
    for name, dim in (("f1", 1024), ("f4", 10)):
        fusion = Fusion(name, n_audio=3, n_visual=2, dim=dim)
        e = embeddings(dim)
        torch.testing.assert_close(fusion.fuse(*e), sum(e))  # initial w = 1, b = 0
        randomise(fusion)
        expected = sum(x * w for x, w in zip(e, fusion.w, strict=True)) + fusion.b
        torch.testing.assert_close(fusion.fuse(*e), expected)
        assert fusion.classifier.in_features == dim and fusion.classifier.out_features == 10


def test_f2_and_f5_weight_audio_and_visual_sums():
    """Eq. 2: f = (sum of audio terms).w_a + (sum of visual terms).w_v + b."""
    for name, dim in (("f2", 1024), ("f5", 10)):
        fusion = Fusion(name, 3, 2, dim)
        randomise(fusion)
        e = embeddings(dim)
        audio = sum(x * w for x, w in zip(e[:3], fusion.w[:3], strict=True))
        visual = sum(x * w for x, w in zip(e[3:], fusion.w[3:], strict=True))
        w_a, w_v = fusion.w_group
        torch.testing.assert_close(fusion.fuse(*e), audio * w_a + visual * w_v + fusion.b)


def test_f3_and_f6_concatenate_audio_and_visual_sums():
    """Eq. 3: f = concat[(sum of audio terms), (sum of visual terms)]: 2D, no bias."""
    for name, dim in (("f3", 1024), ("f6", 10)):
        fusion = Fusion(name, 3, 2, dim)
        randomise(fusion)
        e = embeddings(dim)
        audio = sum(x * w for x, w in zip(e[:3], fusion.w[:3], strict=True))
        visual = sum(x * w for x, w in zip(e[3:], fusion.w[3:], strict=True))
        torch.testing.assert_close(fusion.fuse(*e), torch.cat([audio, visual], 1))
        assert fusion.classifier.in_features == 2 * dim
        assert not hasattr(fusion, "b")


def test_fusion_sizes():
    """Trainable parameters (w1..w5, w_a, w_v, b in R^D) plus FC(10)."""
    assert n_params(Fusion("f1", 3, 2, 1024)) == 6 * 1024 + 1024 * 10 + 10
    assert n_params(Fusion("f2", 3, 2, 1024)) == 8 * 1024 + 1024 * 10 + 10
    assert n_params(Fusion("f3", 3, 2, 1024)) == 5 * 1024 + 2048 * 10 + 10
    assert n_params(Fusion("f4", 3, 2, 10)) == 6 * 10 + 10 * 10 + 10


def test_single_modality_fusion_drops_the_other_term():
    """Table II's audio-only (three embeddings) and visual-only (two) systems with f4."""
    audio_only = Fusion("f4", 3, 0, 10)
    e = embeddings(10, n=3)
    torch.testing.assert_close(audio_only.fuse(*e), sum(e))
    visual_only = Fusion("f6", 0, 2, 10)
    assert visual_only.fuse(*embeddings(10, n=2)).shape == (3, 10)
    assert visual_only(*embeddings(10, n=2)).shape == (3, 10)


def test_fusion_refuses_bad_arguments():
    with pytest.raises(ValueError, match="expected 5 embeddings, got 4"):
        Fusion("f1", 3, 2, 8)(*embeddings(8, n=4))
    with pytest.raises(ValueError, match="unknown fusion 'f7'"):
        Fusion("f7", 3, 2, 8)
    with pytest.raises(ValueError, match="at least one embedding"):
        Fusion("f1", 0, 0, 8)
