import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from avrepro.features.backbones import (
    build_backbone,
    extract,
    feature_dim,
    input_size,
    normalization,
)
from avrepro.features.registry import BACKBONES, WeightsError, audio_image_size
from avrepro.features.weights import WeightsMismatchError


@pytest.mark.parametrize(
    ("name", "dim", "size"),
    [
        ("irv2", 1536, 75),  # 75 is the smallest input IRV2's unpadded stem accepts
        ("resnet18", 512, 64),
        ("resnet101", 2048, 64),
        ("efficientnet_b0", 1280, 64),
        ("tsn_bninception", 1024, 64),
    ],
)
def test_feature_dimension_per_backbone(name, dim, size):
    model = build_backbone(name, weights=None, seed=0)
    images = np.random.default_rng(0).integers(0, 256, (1, size, size, 3), dtype=np.uint8)
    features = extract(model, images, name, batch_size=1)
    assert feature_dim(name) == dim
    assert features.shape == (1, dim)
    assert features.dtype == np.float32
    assert np.isfinite(features).all()


def test_input_sizes_follow_the_paper():
    assert input_size("irv2") == 299
    assert {input_size(n) for n in BACKBONES if n != "irv2"} == {224}


def test_same_seed_same_weights_without_touching_global_rng():
    rng_before = torch.random.get_rng_state()
    first = build_backbone("resnet18", weights=None, seed=7).state_dict()
    second = build_backbone("resnet18", weights=None, seed=7).state_dict()
    other = build_backbone("resnet18", weights=None, seed=8).state_dict()
    assert torch.equal(torch.random.get_rng_state(), rng_before)
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not torch.equal(first["conv1.weight"], other["conv1.weight"])


@pytest.mark.parametrize("name", ["resnet18", "tsn_bninception"])
def test_backbone_is_frozen_and_in_eval_mode(name):
    model = build_backbone(name, weights=None, seed=0)
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())


def test_batches_give_the_same_features_as_one_pass():
    model = build_backbone("efficientnet_b0", weights=None, seed=0)
    images = np.random.default_rng(1).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    whole = extract(model, images, "efficientnet_b0", batch_size=5)
    batched = extract(model, images, "efficientnet_b0", batch_size=2)
    np.testing.assert_allclose(batched, whole, rtol=1e-4, atol=1e-5)


def test_tsn_input_is_caffe_bgr_minus_mean():
    norm = normalization("tsn_bninception")
    assert (norm.mean, norm.std) == ((104, 117, 128), (1, 1, 1))
    assert (norm.value_range, norm.bgr) == (255, True)
    model = build_backbone("tsn_bninception", weights=None, seed=0)
    images = np.zeros((1, 64, 64, 3), dtype=np.uint8)
    images[..., 0] = 200  # pure red in RGB
    expected = torch.empty(1, 3, 64, 64)
    for channel, value in enumerate([0 - 104, 0 - 117, 200 - 128]):  # B, G, R
        expected[:, channel] = value
    with torch.no_grad():
        np.testing.assert_allclose(
            extract(model, images, "tsn_bninception"), model(expected).numpy(), rtol=1e-3, atol=1e-7
        )


def test_timm_backbones_use_the_weights_own_normalization():
    assert normalization("irv2").mean == (0.5, 0.5, 0.5)  # Inception-style [-1, 1] input
    resnet = normalization("resnet18")
    assert resnet.mean == pytest.approx((0.485, 0.456, 0.406))
    assert (resnet.value_range, resnet.bgr) == (1.0, False)


def test_extract_rejects_non_uint8_images():
    model = build_backbone("efficientnet_b0", weights=None, seed=0)
    with pytest.raises(ValueError, match="uint8"):
        extract(model, np.zeros((1, 32, 32, 3), np.float32), "efficientnet_b0")


def test_unknown_backbone_lists_the_known_ones():
    with pytest.raises(ValueError, match="resnet18"):
        build_backbone("vgg16", weights=None, seed=0)


@pytest.fixture(scope="module")
def resnet18_source() -> dict[str, torch.Tensor]:
    """A torchvision-layout ResNet-18 state dict, classifier included, with seed-1 weights."""
    state = build_backbone("resnet18", weights=None, seed=1).state_dict()
    return state | {"fc.weight": torch.zeros(1000, 512), "fc.bias": torch.zeros(1000)}


@pytest.mark.parametrize("suffix", [".pth", ".pt", ".safetensors"])
def test_loads_a_local_weights_file(tmp_path, resnet18_source, suffix):
    path = tmp_path / f"resnet18{suffix}"
    if suffix == ".safetensors":
        save_file(resnet18_source, path)
    else:
        torch.save(resnet18_source, path)
    loaded = build_backbone("resnet18", weights=path, seed=0).state_dict()
    assert all(torch.equal(loaded[k], resnet18_source[k]) for k in loaded)
    assert not loaded["conv1.weight"].requires_grad


def test_a_file_for_another_backbone_errors_naming_the_file(tmp_path, resnet18_source):
    path = tmp_path / "resnet18-weights.pth"
    torch.save(resnet18_source, path)
    with pytest.raises(WeightsMismatchError, match="resnet18-weights.pth") as caught:
        build_backbone("efficientnet_b0", weights=path, seed=0)
    assert "conv_stem.weight" in caught.value.missing
    assert "layer1.0.conv1.weight" in caught.value.unexpected
    assert any(k.startswith("bn1.weight (64,)") for k in caught.value.wrong_shape)


def test_missing_or_corrupt_weights_file_errors_naming_it(tmp_path):
    with pytest.raises(WeightsError, match="absent.pth"):
        build_backbone("resnet18", weights=tmp_path / "absent.pth", seed=0)
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"not a pickle")
    with pytest.raises(WeightsError, match="corrupt.pth"):
        build_backbone("resnet18", weights=corrupt, seed=0)


def test_every_backbone_embeds_audio_images_at_its_own_size():
    """Figure 6 feeds each backbone its training size; a tier that shrinks IRV2's 299 to
    80 shrinks the others' 224 alike."""
    sizes = {name: audio_image_size(name, "irv2", 299) for name in BACKBONES}
    assert sizes == {name: b.input_size for name, b in BACKBONES.items()}
    assert audio_image_size("resnet18", "irv2", 80) == 60
