"""MAFnet's visual extractor: DenseNet-201 maps of 1-s clips, 7x7x1920 at 224 (MAFnet §4.2)."""

import re

import numpy as np
import pytest
import torch
import torchvision

from avrepro.features import densenet
from avrepro.features.weights import (
    WeightsMismatchError,
    load_state_dict_strict,
    to_backbone_state_dict,
)
from avrepro.media.frame_store import FrameStore, write_frames


@pytest.fixture(scope="module")
def model():
    return densenet.build_densenet(weights=None, seed=0)


def frames(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_one_224_frame_gives_7x7x1920_maps_after_the_final_bn_and_relu(model):
    maps = densenet.clip_maps(model, frames((1, 1, 224, 224, 3)))
    assert maps.shape == (1, *densenet.FEATURE_SHAPE) == (1, 1920, 7, 7)
    assert maps.dtype == np.float32
    assert maps.min() >= 0 and maps.max() > 0  # the ReLU after norm5 is included
    # ... and norm5 itself: the maps are torchvision's DenseNet up to its pooling.
    x = torch.randn(1, 3, 64, 64)
    reference = torchvision.models.densenet201(weights=None)
    reference.load_state_dict(model.state_dict(), strict=False)  # all but the classifier
    reference.classifier = torch.nn.Identity()
    with torch.no_grad():
        torch.testing.assert_close(model(x).mean((-2, -1)), reference.eval()(x))


def test_maps_are_averaged_over_each_windows_frames(model):
    clip = frames((2, 3, 64, 64, 3))  # 2 windows of 3 frames; 64 px -> 2x2 maps
    maps = densenet.clip_maps(model, clip, batch_size=4)
    assert maps.shape == (2, 1920, 2, 2)
    single = densenet.clip_maps(model, clip.reshape(6, 1, 64, 64, 3))  # every frame alone
    np.testing.assert_allclose(maps, single.reshape(2, 3, 1920, 2, 2).mean(1), rtol=1e-5,
                               atol=1e-5)
    assert not np.allclose(maps[0], maps[1])


def test_map_size_matches_the_network():
    model = densenet.DenseNetMaps().eval()
    for side in (64, 100, 224):
        with torch.no_grad():
            out = model(torch.zeros(1, 3, side, side))
        assert out.shape[-1] == densenet.map_size(side), side
    assert densenet.map_size(224) == 7


def test_shard_features_zero_the_windows_past_a_clips_length(model, tmp_path):
    shard = tmp_path / "frames.npz"
    clips = frames((2, 3, 1, 64, 64, 3))  # 2 clips, 3 windows of 1 frame
    clips[1, 2] = 0  # the sampler's zero padding
    write_frames(shard, "clips", ["a", "b"], clips, np.array([3, 2]))
    ids, features, n_valid = densenet.shard_features(shard, None, batch_size=8, device="cpu")
    assert list(ids) == ["a", "b"] and list(n_valid) == [3, 2]
    assert features.shape == (2, 3, 1920, 2, 2) and features.dtype == np.float16  # as stored
    assert not features[1, 2].any()  # padding is zeros, not the network's view of black
    assert features[0, 2].any()
    stored = FrameStore([shard]).read(0, [0])  # the window's frames as the shard gives them
    np.testing.assert_allclose(features[0, 0], densenet.clip_maps(model, stored)[0],
                               rtol=1e-3, atol=1e-4)  # float16's 3 significant digits


def test_rejects_frames_that_are_not_windows_of_uint8_rgb(model):
    with pytest.raises(ValueError, match="uint8 frames"):
        densenet.clip_maps(model, frames((1, 64, 64, 3)))


def legacy_torchvision_state(model):
    """The published densenet201-c1103571.pth layout: old `norm.1` names, a classifier,
    no BN batch counters (saved before they existed)."""
    legacy = re.compile(r"(denselayer\d+\.(?:norm|conv))([12])\.")
    state = {legacy.sub(r"\1.\2.", k): v for k, v in model.state_dict().items()
             if not k.endswith("num_batches_tracked")}
    head = {"classifier.weight": torch.zeros(1000, 1920), "classifier.bias": torch.zeros(1000)}
    return state | head


def test_published_file_layout_loads_strictly(model):
    published = legacy_torchvision_state(model)
    assert "features.denseblock1.denselayer1.norm.1.weight" in published  # the legacy names
    fresh = densenet.DenseNetMaps()
    load_state_dict_strict(fresh, to_backbone_state_dict("densenet201", published), "published")
    for key, value in model.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(fresh.state_dict()[key], value), key


def test_legacy_names_without_the_rename_do_not_fit(model):
    published = legacy_torchvision_state(model)
    with pytest.raises(WeightsMismatchError, match="norm.1"):
        load_state_dict_strict(densenet.DenseNetMaps(), published, "as published")


def test_build_from_a_file(model, tmp_path):
    path = tmp_path / "densenet201-c1103571.pth"
    torch.save(legacy_torchvision_state(model), path)
    built = densenet.build_densenet(path, seed=7)  # the file wins over the seed
    torch.testing.assert_close(built.features.norm5.running_var, model.features.norm5.running_var)
    assert not any(p.requires_grad for p in built.parameters()) and not built.training
