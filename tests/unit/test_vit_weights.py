"""ImageNet ViT weights into IMD's visual streams (models/vit_weights.py): files built here from
timm's own ViT definition (the publisher's layout), saved as safetensors, loaded offline."""

from dataclasses import replace

import pytest
import timm
import torch
from safetensors.torch import save_file
from timm.models.vision_transformer import VisionTransformer

from avrepro.features.weights import WeightsMismatchError
from avrepro.models.imd import IMDConfig, IMDNet
from avrepro.models.vit_weights import (
    DROPPED_PREFIXES,
    load_vit_file,
    load_vit_weights,
    new_keys,
    stream_state_dict,
)

CFG = IMDConfig(num_classes=5, modalities=("rgb", "flow"), image_size=32, patch=8, frames=4,
                dim=32, depth=3, st_blocks=1, heads=2)


def tiny_vit(depth: int = 3) -> VisionTransformer:
    torch.manual_seed(1)
    vit = VisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=depth, num_heads=2)
    with torch.no_grad():  # timm zeroes some biases / LN shifts: make every weight tell
        for p in vit.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return vit.eval()


@pytest.fixture
def vit_file(tmp_path):
    vit = tiny_vit()
    path = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in vit.state_dict().items()}, path)
    return vit, path


def loaded(path, **overrides) -> IMDNet:
    model = IMDNet(replace(CFG, **overrides)).eval()
    load_vit_file(model, path)
    return model


def vit_cls(vit: VisionTransformer, image: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return vit.forward_features(image)[:, 0]  # the CLS token after the final norm


def test_spatial_stream_on_one_frame_is_the_image_vit(vit_file):
    vit, path = vit_file
    model = loaded(path, frames=1, st_blocks=0)  # no space-time blocks
    image = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ours = model.streams["rgb"](image[:, None])
    torch.testing.assert_close(ours, vit_cls(vit, image), rtol=1e-5, atol=1e-5)


def test_loaded_space_time_stream_starts_as_the_image_vit_on_every_frame(vit_file):
    vit, path = vit_file
    model = loaded(path)  # 2 spatial + 1 divided space-time block, 4 frames
    image = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ours = model.streams["rgb"](image[:, None].expand(-1, 4, -1, -1, -1))
    torch.testing.assert_close(ours, vit_cls(vit, image), rtol=1e-5, atol=1e-5)
    block, source = model.streams["rgb"].blocks[2], vit.blocks[2]
    # TimeSformer's init: temporal attention copies the block's attention, LR is zero.
    torch.testing.assert_close(block.temporal_attn.qkv.weight, source.attn.qkv.weight)
    torch.testing.assert_close(block.temporal_norm1.bias, source.norm1.bias)
    assert not block.temporal_fc.weight.any() and not model.streams["rgb"].time_embed.any()


def test_flow_patch_embedding_is_the_rgb_one_averaged_over_colours(vit_file):
    _, path = vit_file
    model = loaded(path)
    weight = model.streams["flow"].patch_embed.proj.weight  # (D, 2, P, P)
    rgb = model.streams["rgb"].patch_embed.proj.weight  # (D, 3, P, P)
    torch.testing.assert_close(weight, rgb.mean(1, keepdim=True).expand(-1, 2, -1, -1))
    # So flow fields of value 1.5 g embed like a grey frame g: 2 x mean x 1.5 g = 3 x mean x g.
    grey = torch.randn(2, 4, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model.streams["flow"](1.5 * grey.expand(-1, -1, 2, -1, -1)),
                                   model.streams["rgb"](grey.expand(-1, -1, 3, -1, -1)),
                                   rtol=1e-4, atol=1e-4)


def test_every_file_key_is_used_or_deliberately_dropped_and_only_new_keys_stay_unset(vit_file):
    vit, _ = vit_file
    model = IMDNet(CFG)
    file_keys = set(vit.state_dict())
    for stream in model.streams.values():
        mapped = stream_state_dict(vit.state_dict(), stream)
        assert file_keys - set(mapped) == {k for k in file_keys if k.startswith(DROPPED_PREFIXES)}
        assert file_keys - set(mapped) == {"head.weight", "head.bias"}
        unset = set(stream.state_dict()) - set(mapped)
        assert unset == new_keys(stream) == {"time_embed", "blocks.2.temporal_fc.weight",
                                             "blocks.2.temporal_fc.bias"}
    # Outside the streams nothing comes from the file: fusion layers and head keep their init.
    head = model.head[1][0].weight.clone()
    load_vit_weights(model, vit.state_dict(), source="test")
    torch.testing.assert_close(model.head[1][0].weight, head)


def test_positional_embedding_is_resampled_to_a_larger_grid(vit_file):
    vit, path = vit_file
    model = loaded(path, image_size=48)  # 6 x 6 patches from the file's 4 x 4
    pos = model.streams["rgb"].pos_embed
    assert pos.shape == (1, 37, 32)
    torch.testing.assert_close(pos[:, 0], vit.pos_embed[:, 0])  # the CLS position unchanged


def test_a_file_that_does_not_fit_is_refused_naming_the_keys(tmp_path):
    deeper = tmp_path / "deeper.safetensors"
    save_file({k: v.contiguous() for k, v in tiny_vit(depth=4).state_dict().items()}, deeper)
    with pytest.raises(WeightsMismatchError, match=r"unexpected keys .*blocks\.3\.") as error:
        load_vit_file(IMDNet(CFG), deeper)
    assert str(deeper) in str(error.value)
    state = tiny_vit().state_dict()
    del state["norm.weight"]
    with pytest.raises(WeightsMismatchError, match=r"missing keys \(1\) norm\.weight"):
        load_vit_weights(IMDNet(CFG), state, source="test")


@pytest.mark.parametrize(("size", "name"), [("B", "vit_base_patch16_224.augreg_in21k"),
                                            ("L", "vit_large_patch16_224.augreg_in21k")])
def test_the_published_layouts_fit_imd_b_and_imd_l(size, name):
    """timm's own definition of the registered files (meta tensors: keys and shapes only)."""
    with torch.device("meta"):
        state = timm.create_model(name, pretrained=False).state_dict()
        model = IMDNet(IMDConfig.preset(size, 400, modalities=("rgb", "flow")))
    assert state["head.weight"].shape[0] == 21843  # the ImageNet-21k classifier, dropped
    for stream in model.streams.values():
        mapped = stream_state_dict(state, stream)
        own = stream.state_dict()
        assert set(own) - set(mapped) == new_keys(stream)
        assert set(mapped) <= set(own)
        assert all(mapped[k].shape == own[k].shape for k in mapped)
