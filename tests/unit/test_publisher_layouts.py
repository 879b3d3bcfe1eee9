"""Every registered weights file (features.registry.KNOWN_WEIGHTS), proven on its publisher's
own key layout: a file written from the publisher's model definition, with seeded random
weights, goes through our loader exactly as the workflow loads it; every key of the file is
used or is the registered classifier head, none of our keys is left unset, and our network
computes what the publisher's computes (features before the head).

Where the publisher's package has a loader, the file is first read by that loader, with its
download function pointed at the local file (`offline_hub`): the publisher's loader asks
for the registered URL and loads the file strictly, so the file is in the layout that URL
serves, and the reference network is the one the publisher builds from it.

| entry               | publisher's definition used here                        | proven       |
|---------------------|---------------------------------------------------------|--------------|
| irv2                | Cadene's pretrainedmodels inceptionresnetv2 and loader  | keys, output |
| resnet18, resnet101 | torchvision resnet and its IMAGENET1K_V1 loader         | keys, output |
| efficientnet_b0     | timm efficientnet_b0.ra_in1k and timm's file loader     | keys, output |
| tsn_bninception     | pretrainedmodels bninception, head renamed `fc` (below) | keys, output |
| densenet201         | torchvision densenet201 and its IMAGENET1K_V1 loader    | keys, output |
| vggish              | torchvggish (harritaylor) VGG and its loader            | keys, output |
| vggish_pca          | torchvggish's Postprocessor and its loader              | keys, values |
| inception_v3        | torchvision inception_v3 and its IMAGENET1K_V1 loader   | keys, output |
| convnext_tiny       | torchvision convnext_tiny and its IMAGENET1K_V1 loader  | keys, output |
| raft_large/small    | torchvision RAFT and its C_T_SKHT_V2 / C_T_V2 loaders   | keys, output |
| vit_b16/l16_in21k   | timm's ViT: in tests/unit/test_vit_weights.py           | keys, output |
| ast_audioset        | timm's DeiT, transformers' AST: in test_ast.py          | keys, output |
| aenet, _mean, _std  | none installable: test_aenet.py (below)                 | keys, shapes |

What cannot be proven here, and why:
- tsn_bninception: the file is TSM's conversion of TSN's Caffe model, which TSM's own
  archs/bn_inception.py (not a package) loads. That class has Cadene's `bninception` key
  names and layers, with its classifier named `fc` (400-way); so the file is built from
  pretrainedmodels' bninception with `last_linear` renamed `fc`, and that rename is taken
  from TSM's source, not executed. TSN's Caffe model itself needs Caffe.
- vggish / vggish_pca: the files are torchvggish's port of Google's TensorFlow checkpoint;
  that the port equals the TF graph is torchvggish's claim, not tested here (no TF
  definition is installed). torchvggish's post-processor rounds where Google's truncates
  (our `vggish.postprocess` follows Google), so their uint8 outputs may differ by one step.
- ast_audioset: Gong et al.'s ast_models.py is not a package (and needs timm 0.4.5);
  test_ast.py proves the released layout with timm's DeiT, and the outputs against the
  release's forward pass on timm's modules and against transformers' AST.
- aenet, aenet_mean, aenet_std: the authors' network is Python 2 code on Lasagne and
  Theano (github.com/znaoya/aenet, not a package), not run here; test_aenet.py writes
  model.pkl as Python 2's cPickle does, in the layer order and Lasagne conventions (flipped
  kernels, (in, out) dense weights) that features/aenet.py takes from that code, and proves
  every key and the outputs under those conventions, with gmean.npy and gstd.npy beside it.
- vit_b16_in21k, vit_l16_in21k: timm's files have timm's keys; test_vit_weights.py proves
  them at full size (keys and shapes) and the outputs on a small ViT.
"""

import re
from pathlib import Path

import numpy as np
import pretrainedmodels
import pytest
import timm
import torch
import torch.utils.model_zoo
import torchvggish
import torchvision
import torchvision.models._api
from torch import nn
from torchvision.models import optical_flow

from avrepro.features import densenet, vggish
from avrepro.features.backbones import build_backbone, normalization
from avrepro.features.registry import KNOWN_WEIGHTS
from avrepro.features.weights import read_state_dict, to_backbone_state_dict
from avrepro.media.flow import build_raft
from avrepro.models import twophase
from avrepro.models.tsn import TSN

# Where each entry is proven: this module's tests, or the module named.
PROVEN_IN = {
    "irv2": "test_irv2_cadene_file",
    "resnet18": "test_torchvision_resnet_files",
    "resnet101": "test_torchvision_resnet_files",
    "efficientnet_b0": "test_efficientnet_b0_timm_file",
    "tsn_bninception": "test_tsn_bninception_tsm_file",
    "densenet201": "test_densenet201_legacy_torchvision_file",
    "vggish": "test_vggish_torchvggish_file",
    "vggish_pca": "test_vggish_pca_torchvggish_file",
    "inception_v3": "test_twophase_torchvision_files",
    "convnext_tiny": "test_twophase_torchvision_files",
    "raft_large": "test_raft_torchvision_files",
    "raft_small": "test_raft_torchvision_files",
    "vit_b16_in21k": "test_vit_weights.py",
    "vit_l16_in21k": "test_vit_weights.py",
    "ast_audioset": "test_ast.py",
    "aenet": "test_aenet.py",
    "aenet_mean": "test_aenet.py",
    "aenet_std": "test_aenet.py",
}


def test_every_registered_file_is_proven_somewhere():
    """A new KNOWN_WEIGHTS entry must name the test that proves its layout."""
    assert set(PROVEN_IN) == set(KNOWN_WEIGHTS)
    here = {name for name in globals() if name.startswith("test_")}
    for name, where in PROVEN_IN.items():
        assert where in here or (Path(__file__).parent / where).is_file(), name


@pytest.fixture(autouse=True)
def flush_denormals():
    """Speed only: random deep networks reach subnormal floats, which the CPU computes 10-20
    times slower (Cadene's IRV2: 11 s a 299-px image); both networks see the same flush."""
    torch.set_flush_denormal(True)
    yield
    torch.set_flush_denormal(False)


@pytest.fixture
def offline_hub(monkeypatch):
    """{url: local file}: the publishers' loaders (torch.hub, model_zoo, torchvision's
    weights) read these files instead of downloading; any other URL fails the test."""
    files = {}

    def load(url, *args, **kwargs):
        assert url in files, f"the publisher's loader asked for {url}"
        return torch.load(files[url], map_location="cpu", weights_only=False)

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", load)
    monkeypatch.setattr(torch.utils.model_zoo, "load_url", load)
    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", load)
    return files


def vivid(model: nn.Module, seed: int = 0) -> nn.Module:
    """`model` in eval mode with every constant tensor (norm scales and shifts, running
    statistics, zero biases, layer scales) drawn at random: left at 0 or 1, a tensor loaded
    into the wrong place would not change the output. Those are per channel: larger tensors
    (kernels, dense weights) are random already."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if not tensor.is_floating_point() or not 1 < tensor.numel() <= 4096:
                continue
            if (tensor == tensor.flatten()[0]).all():
                low, high = (-0.1, 0.1) if tensor.flatten()[0] == 0 else (0.5, 1.5)
                tensor.uniform_(low, high, generator=generator)
    return model.eval()


def publish(name: str, state: dict[str, torch.Tensor], folder, files=None):
    """Save `state` as the registered file of `name` (its cache file name) in `folder`;
    with `files` (offline_hub), serve it at the registered URL."""
    path = folder / KNOWN_WEIGHTS[name].file_name
    torch.save(state, path)
    if files is not None:
        files[KNOWN_WEIGHTS[name].url] = path
    return path


def without_batch_counters(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict as PyTorch before 0.4 saved it: BatchNorm had no `num_batches_tracked`
    (Cadene's ports, torchvision's 2017 DenseNet files)."""
    return {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}


def assert_every_key_used(name: str, path, model: nn.Module) -> set[str]:
    """Every key of the file at `path` becomes one of `model`'s or is the registered head,
    and every key of `model` (but BatchNorm's batch counter) comes from the file. Returns
    the file's keys that were dropped as head."""
    published = read_state_dict(path)
    mapped = to_backbone_state_dict(name, published)
    head = {k for k in published if k.startswith(KNOWN_WEIGHTS[name].head_prefixes)}
    assert len(mapped) == len(published) - len(head)  # no two file keys on one name
    counters = {k for k in model.state_dict() if k.endswith("num_batches_tracked")}
    assert set(mapped) - counters == set(model.state_dict()) - counters
    return head


def assert_same_output(ours: torch.Tensor, publishers: torch.Tensor) -> None:
    assert ours.shape == publishers.shape
    scale = publishers.abs().max().item()
    assert scale > 0
    torch.testing.assert_close(ours, publishers, rtol=1e-5, atol=1e-5 * scale)


def test_irv2_cadene_file(offline_hub, tmp_path):
    """Cadene's inceptionresnetv2 (1001 classes, no batch counters) loads from our file
    through pretrainedmodels' own loader, and our timm IRV2 gives its pooled features."""
    torch.manual_seed(0)
    cadene = vivid(pretrainedmodels.inceptionresnetv2(num_classes=1001, pretrained=None))
    path = publish("irv2", without_batch_counters(cadene.state_dict()), tmp_path, offline_hub)
    reference = pretrainedmodels.inceptionresnetv2(1001, "imagenet+background").eval()

    ours = build_backbone("irv2", weights=path, seed=1)  # MAiVAR's extractor
    assert assert_every_key_used("irv2", path, ours) == {"last_linear.weight", "last_linear.bias"}
    x = torch.randn(1, 3, 139, 139)  # 3x3 maps; at 299 px, Cadene's 8x8 pool is their mean
    with torch.no_grad():
        assert_same_output(ours(x), reference.features(x).mean((2, 3)))
    # Our preprocessing is Cadene's for this file: RGB in [0, 1], mean 0.5, std 0.5.
    settings = pretrainedmodels.pretrained_settings["inceptionresnetv2"]["imagenet"]
    norm = normalization("irv2")
    assert (list(norm.mean), list(norm.std)) == (settings["mean"], settings["std"])
    assert settings["input_space"] == "RGB" and not norm.bgr and norm.value_range == 1.0


@pytest.mark.parametrize("name", ["resnet18", "resnet101"])
def test_torchvision_resnet_files(name, offline_hub, tmp_path):
    """torchvision's ResNet IMAGENET1K_V1 file (what its own loader reads) fills our timm
    ResNet, which gives torchvision's pooled features."""
    torch.manual_seed(0)
    publisher = vivid(torchvision.models.get_model(name, weights=None))
    path = publish(name, publisher.state_dict(), tmp_path, offline_hub)
    reference = torchvision.models.get_model(name, weights="IMAGENET1K_V1").eval()
    reference.fc = nn.Identity()

    ours = build_backbone(name, weights=path, seed=1)
    assert assert_every_key_used(name, path, ours) == {"fc.weight", "fc.bias"}
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert_same_output(ours(x), reference(x))
    transforms = torchvision.models.get_model_weights(name).IMAGENET1K_V1.transforms()
    norm = normalization(name)
    assert np.allclose(norm.mean, transforms.mean) and np.allclose(norm.std, transforms.std)


def test_efficientnet_b0_timm_file(tmp_path):
    """timm's efficientnet_b0.ra_in1k file (the registered URL is timm's own) is read by
    timm's loader and by ours; our extractor gives timm's pre-logits features."""
    tag = "efficientnet_b0.ra_in1k"
    cfg = timm.models.get_pretrained_cfg(tag)
    assert cfg.url == KNOWN_WEIGHTS["efficientnet_b0"].url
    torch.manual_seed(0)
    publisher = vivid(timm.create_model(tag, pretrained=False))
    path = publish("efficientnet_b0", publisher.state_dict(), tmp_path)
    reference = timm.create_model(tag, pretrained=True, pretrained_cfg_overlay={"file": path})

    ours = build_backbone("efficientnet_b0", weights=path, seed=1)
    dropped = assert_every_key_used("efficientnet_b0", path, ours)
    assert dropped == {"classifier.weight", "classifier.bias"}
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = reference.eval().forward_head(reference.forward_features(x), pre_logits=True)
        assert_same_output(ours(x), expected)
    norm = normalization("efficientnet_b0")
    assert (norm.mean, norm.std) == (cfg.mean, cfg.std)


def test_tsn_bninception_tsm_file(tmp_path):
    """TSM's Kinetics BN-Inception layout (Cadene's bninception keys, a 400-way `fc`, no
    batch counters) fills MAiVAR's extractor and a TSN stream; both give Cadene's pooled
    features (its 7x7 global pool at 224 px)."""
    torch.manual_seed(0)
    cadene = vivid(pretrainedmodels.bninception(num_classes=400, pretrained=None))
    state = {k.replace("last_linear.", "fc."): v for k, v in cadene.state_dict().items()}
    path = publish("tsn_bninception", without_batch_counters(state), tmp_path)

    ours = build_backbone("tsn_bninception", weights=path, seed=1)  # MAiVAR
    assert assert_every_key_used("tsn_bninception", path, ours) == {"fc.weight", "fc.bias"}
    tsn = TSN(num_classes=101)
    tsn.load_pretrained(read_state_dict(path), source=str(path))  # TSN's training
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        expected = cadene.global_pool(cadene.features(x)).flatten(1)
        assert_same_output(ours(x), expected)
        assert_same_output(tsn.base_model.eval()(x), expected)
    # Our preprocessing is the file's: BGR, 0-255, mean subtraction only.
    settings = pretrainedmodels.pretrained_settings["bninception"]["imagenet"]
    norm = normalization("tsn_bninception")
    assert (list(norm.mean), list(norm.std)) == (settings["mean"], settings["std"])
    assert settings["input_space"] == "BGR" and norm.bgr and norm.value_range == 255.0


def test_densenet201_legacy_torchvision_file(offline_hub, tmp_path):
    """torchvision's densenet201-c1103571.pth spells the dense layers' modules the old way
    (`norm.1`); torchvision's loader and ours both rename them, and our maps are
    torchvision's features after the final ReLU."""
    torch.manual_seed(0)
    publisher = vivid(torchvision.models.densenet201(weights=None))
    legacy = {
        # torchvision's own loader undoes exactly this (models.densenet._load_state_dict)
        torchvision_legacy_name(k): v for k, v in publisher.state_dict().items()
    }
    assert "features.denseblock1.denselayer1.norm.1.weight" in legacy
    path = publish("densenet201", without_batch_counters(legacy), tmp_path, offline_hub)
    reference = torchvision.models.densenet201(weights="IMAGENET1K_V1").eval()

    ours = densenet.build_densenet(path)
    dropped = assert_every_key_used("densenet201", path, ours)
    assert dropped == {"classifier.weight", "classifier.bias"}
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert_same_output(ours(x), torch.relu(reference.features(x)))


def torchvision_legacy_name(key: str) -> str:
    """`...denselayer1.norm1.weight` -> `...denselayer1.norm.1.weight` (the 2017 files)."""
    return re.sub(r"(denselayer\d+\.(?:norm|relu|conv))([12])\.", r"\1.\2.", key)


def test_vggish_torchvggish_file(offline_hub, tmp_path):
    """torchvggish's VGG loads our file through torchvggish.vggish(); our maps-only VGGish
    gives its conv4_2 maps (its `features` before pool4) and our embedder its embeddings."""
    torch.manual_seed(0)
    publisher = vivid(torchvggish.torchvggish._vgg(postprocess=False))
    path = publish("vggish", publisher.state_dict(), tmp_path, offline_hub)
    reference = torchvggish.vggish(postprocess=False).eval()

    maps = vggish.build_vggish(path)  # MAFnet
    dropped = assert_every_key_used("vggish", path, maps)
    assert dropped == {f"embeddings.{i}.{p}" for i in (0, 2, 4) for p in ("weight", "bias")}
    embedder = vggish.build_embedder(path)  # Lee et al.: the same file, every key
    assert set(vggish.embedder_state_dict(read_state_dict(path))) == set(embedder.state_dict())
    x = torch.randn(2, 1, 96, 64)
    with torch.no_grad():
        assert_same_output(maps(x), reference.features[:-1](x))
        assert_same_output(embedder(x), reference(x))


@pytest.mark.parametrize("means_shape", [(128,), (128, 1)])
def test_vggish_pca_torchvggish_file(means_shape, offline_hub, tmp_path):
    """torchvggish's PCA file (a pickled dict of NumPy arrays; Google's means are (128,),
    torchvggish's parameter (128, 1)) is read by torchvggish's Postprocessor and by
    vggish.load_pca to the same parameters; the post-processed bytes agree up to
    torchvggish's rounding (Google's, which we follow, truncates)."""
    rng = np.random.default_rng(0)
    state = {
        "pca_eigen_vectors": rng.normal(0, 0.1, (128, 128)),
        "pca_means": rng.normal(0, 1, means_shape),
    }
    path = publish("vggish_pca", state, tmp_path, offline_hub)
    reference = torchvggish.torchvggish.Postprocessor()

    matrix, means = vggish.load_pca(path)
    np.testing.assert_allclose(matrix, reference._pca_matrix.numpy(), rtol=1e-6)
    np.testing.assert_allclose(means, reference._pca_means.numpy()[:, 0], rtol=1e-6)
    embeddings = rng.normal(0, 3, (5, 128))
    ours = vggish.postprocess(embeddings, matrix, means).astype(int)
    theirs = reference.postprocess(torch.as_tensor(embeddings).float()).numpy()
    assert np.abs(ours - theirs).max() <= 1 and (ours <= theirs).all()


@pytest.mark.parametrize("name", ["inception_v3", "convnext_tiny"])
def test_twophase_torchvision_files(name, offline_hub, tmp_path):
    """torchvision's IMAGENET1K_V1 files (Inception-v3 with its auxiliary classifier) fill
    two-phase's visual branches; on the same frames, a branch's trunk gives the pooled
    features of torchvision's network fed as torchvision's weights expect (ImageNet
    normalisation; Inception-v3's transform_input then rescales to [-1, 1])."""
    torch.manual_seed(0)
    kwargs = {"aux_logits": True, "init_weights": False} if name == "inception_v3" else {}
    publisher = vivid(torchvision.models.get_model(name, weights=None, **kwargs))
    path = publish(name, publisher.state_dict(), tmp_path, offline_hub)
    weights = torchvision.models.get_model_weights(name).IMAGENET1K_V1
    reference = torchvision.models.get_model(name, weights=weights).eval()
    if name == "inception_v3":
        reference.fc = nn.Identity()
    else:
        reference.classifier[2] = nn.Identity()

    branch = twophase.visual_branch(name).eval()
    twophase.load_visual_weights(branch, name, path)
    dropped = assert_every_key_used(name, path, twophase.visual_backbone(branch))
    for prefix in KNOWN_WEIGHTS[name].head_prefixes:  # each names a head of the file
        assert any(key.startswith(prefix) for key in dropped), prefix
    frames = torch.randint(0, 256, (2, 96, 96, 3), dtype=torch.uint8)
    mean = torch.tensor(weights.transforms().mean).view(1, 3, 1, 1)
    std = torch.tensor(weights.transforms().std).view(1, 3, 1, 1)
    imagenet = (frames.permute(0, 3, 1, 2).float() / 255 - mean) / std
    with torch.no_grad():
        assert_same_output(branch.trunk(frames), reference(imagenet))


@pytest.mark.parametrize(
    ("name", "weights"), [("raft_large", "C_T_SKHT_V2"), ("raft_small", "C_T_V2")]
)
def test_raft_torchvision_files(name, weights, offline_hub, tmp_path):
    """torchvision's RAFT files fill media.flow's RAFT, whose flow is torchvision's."""
    torch.manual_seed(0)
    publisher = vivid(getattr(optical_flow, name)(weights=None))
    path = publish(name, publisher.state_dict(), tmp_path, offline_hub)
    reference = getattr(optical_flow, name)(weights=weights).eval()

    ours = build_raft(name, weights=path)
    assert assert_every_key_used(name, path, ours) == set()
    first, second = torch.rand(2, 1, 3, 128, 128) * 2 - 1
    with torch.no_grad():
        flow = ours(first, second, num_flow_updates=2)[-1]
        assert_same_output(flow, reference(first, second, num_flow_updates=2)[-1])
