import pytest
import torch

from avrepro.features.bninception import BLOCKS, FEATURE_DIM, BNInception, load_tsn_state_dict
from avrepro.features.weights import WeightsMismatchError


@pytest.fixture(scope="module")
def model() -> BNInception:
    torch.manual_seed(0)
    return BNInception().eval()


@pytest.mark.parametrize("size", [224, 64])
def test_pooled_features_are_1024_per_image(model, size):
    with torch.no_grad():
        features = model.forward_features(torch.randn(2, 3, size, size))
    assert features.shape == (2, FEATURE_DIM)
    # The last block ends in ReLUs, so its average-pooled output cannot be negative.
    assert (features >= 0).all()
    assert torch.equal(model(torch.randn(0, 3, size, size)), torch.empty(0, FEATURE_DIM))


def test_blocks_chain_to_1024_channels():
    c_in = 192
    for block in BLOCKS:
        assert block.c_in == c_in, block.name
        c_in = block.c_out
    assert c_in == FEATURE_DIM


def test_parameter_count_matches_bn_inception(model):
    # The 1024-d trunk has 10.27M parameters; with the 1000-way ImageNet classifier
    # BN-Inception has the 11.3M usually quoted.
    trunk = sum(p.numel() for p in model.parameters())
    assert trunk == 10_270_240
    with_head = sum(p.numel() for p in BNInception(num_classes=1000).parameters())
    assert with_head == trunk + 1024 * 1000 + 1000


def test_parameter_names_and_shapes_follow_the_tsn_checkpoint(model):
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes["conv1_7x7_s2.weight"] == (64, 3, 7, 7)
    assert shapes["conv1_7x7_s2.bias"] == (64,)
    assert shapes["conv1_7x7_s2_bn.running_mean"] == (64,)
    assert shapes["conv2_3x3.weight"] == (192, 64, 3, 3)
    assert shapes["inception_3a_1x1.weight"] == (64, 192, 1, 1)
    assert shapes["inception_3a_double_3x3_2_bn.running_var"] == (96,)
    assert shapes["inception_3c_3x3.weight"] == (160, 128, 3, 3)
    assert shapes["inception_5b_pool_proj.weight"] == (128, 1024, 1, 1)
    # Grid-reduction blocks have neither a 1x1 branch nor a pool projection.
    for name in ("3c", "4e"):
        assert f"inception_{name}_1x1.weight" not in shapes
        assert f"inception_{name}_pool_proj.weight" not in shapes


def _randomised(model: BNInception) -> BNInception:
    """Give BN non-trivial statistics so that a failed load would change the output."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return model.eval()


@pytest.mark.parametrize(
    ("prefix", "head"),
    [
        ("backbone.", {"cls_head.fc_cls.weight": torch.zeros(101, 1024)}),  # mmaction
        ("module.base_model.", {"module.new_fc.weight": torch.zeros(101, 1024)}),  # tsn-pytorch
        ("", {"fc.weight": torch.zeros(400, 1024), "fc.bias": torch.zeros(400)}),  # TSM
    ],
)
def test_prefixed_state_dict_round_trips(tmp_path, prefix, head):
    torch.manual_seed(1)
    source = _randomised(BNInception())
    saved = {prefix + k: v for k, v in source.state_dict().items()} | head
    torch.save(saved, tmp_path / "tsn.pth")

    torch.manual_seed(2)
    target = BNInception().eval()
    load_tsn_state_dict(target, torch.load(tmp_path / "tsn.pth", weights_only=True))

    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(target(x), source(x))


def test_load_keeps_the_models_own_head():
    torch.manual_seed(3)
    model = BNInception(num_classes=5)
    head_before = model.fc.weight.clone()
    published = BNInception(num_classes=400).state_dict()
    load_tsn_state_dict(model, published)
    assert torch.equal(model.fc.weight, head_before)


def test_state_dict_without_num_batches_tracked_loads():
    # Files converted with old PyTorch (the Caffe ports) lack this buffer.
    state = {k: v for k, v in BNInception().state_dict().items() if "num_batches" not in k}
    load_tsn_state_dict(BNInception(), state)


def test_mismatched_state_dict_names_the_keys():
    state = BNInception().state_dict()
    del state["inception_4d_3x3.weight"]
    state["inception_9z_1x1.weight"] = torch.zeros(1)
    with pytest.raises(WeightsMismatchError) as caught:
        load_tsn_state_dict(BNInception(), state)
    assert caught.value.missing == ["inception_4d_3x3.weight"]
    assert caught.value.unexpected == ["inception_9z_1x1.weight"]
    assert "inception_4d_3x3.weight" in str(caught.value)
