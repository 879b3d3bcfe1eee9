"""Pretrained weights: which published file each backbone uses, fetching it once, loading it.

Compute nodes are offline, so the workflow splits the two halves:
- `fetch_weights` runs in a download rule (a localrule with internet) and puts the file in
  the cache directory, verified by checksum;
- jobs call `weights_path`, which only looks in that directory, and load the file with
  `read_state_dict` + `to_backbone_state_dict` + `load_state_dict_strict`.

The files are kept exactly as published (so their checksum stays checkable); the key
differences between a published file and our model are undone at load time by
`to_backbone_state_dict`.
"""

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from avrepro.data.download import download_file


class WeightsError(Exception):
    """A weights file is unknown, absent, unreadable or does not fit its model."""


class WeightsMismatchError(WeightsError):
    def __init__(
        self, source: str, missing: list[str], unexpected: list[str], wrong_shape: list[str]
    ) -> None:
        super().__init__(
            f"{source} does not fit the model: missing keys {_preview(missing)}; "
            f"unexpected keys {_preview(unexpected)}; wrong shapes {_preview(wrong_shape)}"
        )
        self.missing = missing
        self.unexpected = unexpected
        self.wrong_shape = wrong_shape


@dataclass(frozen=True)
class KnownWeights:
    url: str
    # Full sha256, or the prefix the publisher put in the file name: torchvision, Cadene
    # and timm name files `{model}-{first 8 hex digits of the sha256}.pth`, and torch.hub's
    # `check_hash` verifies exactly that prefix. `download_file` accepts either.
    sha256: str
    # Classifier keys of the published file: our extractors have no classifier.
    head_prefixes: tuple[str, ...]
    description: str
    # (regex, replacement) pairs turning the file's remaining keys into our model's names.
    renames: tuple[tuple[str, str], ...] = ()

    @property
    def file_name(self) -> str:
        return file_name_from_url(self.url)


KNOWN_WEIGHTS: dict[str, KnownWeights] = {
    # The paper (§3.5) uses ImageNet IRV2 "available with PyTorch": Cadene's
    # pretrainedmodels port of Google's TensorFlow weights, the same weights timm ships
    # as inception_resnet_v2.tf_in1k (Cadene's 1001-way `last_linear` becomes timm's
    # `classif`; every other key is identical).
    "irv2": KnownWeights(
        url="http://data.lip6.fr/cadene/pretrainedmodels/inceptionresnetv2-520b38e4.pth",
        sha256="520b38e4",
        head_prefixes=("last_linear.", "classif."),
        description="Inception-ResNet-v2, ImageNet (Cadene port of the TF weights)",
    ),
    # torchvision's ResNet keys are timm's ResNet keys (timm kept them on purpose).
    "resnet18": KnownWeights(
        url="https://download.pytorch.org/models/resnet18-f37072fd.pth",
        sha256="f37072fd",
        head_prefixes=("fc.",),
        description="ResNet-18, ImageNet (torchvision v1 weights = timm resnet18.tv_in1k)",
    ),
    "resnet101": KnownWeights(
        url="https://download.pytorch.org/models/resnet101-63fe2227.pth",
        sha256="63fe2227",
        head_prefixes=("fc.",),
        description="ResNet-101, ImageNet (torchvision v1 weights = timm resnet101.tv_in1k)",
    ),
    # timm's own file for efficientnet_b0.ra_in1k (its pretrained_cfg url); timm keys.
    "efficientnet_b0": KnownWeights(
        url=(
            "https://github.com/rwightman/pytorch-image-models/releases/download/"
            "v0.1-weights/efficientnet_b0_ra-3dd342df.pth"
        ),
        sha256="3dd342df",
        head_prefixes=("classifier.",),
        description="EfficientNet-B0, ImageNet (timm efficientnet_b0.ra_in1k)",
    ),
    # The paper (§3.4) uses TSN's BN-Inception pretrained on Kinetics-400. Neither the
    # mmaction2 nor the timm model zoo publishes one (mmaction2's TSN models are ResNets),
    # so this is the PyTorch conversion of TSN's Kinetics-400 BN-Inception that TSM and
    # its descendants load (Cadene key names, a 400-way `fc`). The hash in its name
    # follows the convention above but is not confirmed by its publisher; override it
    # with `sha256=` if it disagrees with a file you trust. The prefixes also cover
    # mmaction (`cls_head`, `data_preprocessor`) and tsn-pytorch (`new_fc`) checkpoints.
    "tsn_bninception": KnownWeights(
        url="https://www.dropbox.com/s/gx4u7itoyygix0c/BNInceptionKinetics-47f0695e.pth?dl=1",
        sha256="47f0695e",
        head_prefixes=("fc.", "new_fc.", "last_linear.", "cls_head.", "data_preprocessor."),
        description="BN-Inception, Kinetics-400 (TSN weights as converted for TSM)",
    ),
    # MAFnet (§4.2) uses ImageNet DenseNet-201: torchvision's IMAGENET1K_V1 file. It keeps
    # the dense layers' old submodule names (`denselayer1.norm.1.weight`), which today's
    # torchvision (and our DenseNetMaps) spell `denselayer1.norm1.weight`; torchvision's
    # own loader renames them with the same pattern. Every other key is unchanged.
    "densenet201": KnownWeights(
        url="https://download.pytorch.org/models/densenet201-c1103571.pth",
        sha256="c1103571",
        head_prefixes=("classifier.",),
        description="DenseNet-201, ImageNet (torchvision IMAGENET1K_V1)",
        renames=((r"^(.*denselayer\d+\.(?:norm|relu|conv))\.([12])\.", r"\1\2."),),
    ),
    # MAFnet's VGGish pretrained on AudioSet, in PyTorch: torchvggish's (harritaylor) port
    # of Google's TF checkpoint. Its VGG keeps the conv stack as an nn.Sequential
    # `features` (conv + ReLU pairs and max pools, so the convs sit at indexes 0, 3, 6, 8,
    # 11, 13) and the fully connected layers as `embeddings`, which our maps-only VGGish
    # has no use for. The indexes become the TF layer names our VGGish uses.
    "vggish": KnownWeights(
        url="https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth",
        sha256="10086976",
        head_prefixes=("embeddings.",),
        description="VGGish, AudioSet (torchvggish port of the TensorFlow weights)",
        renames=tuple(
            (rf"^features\.{index}\.", f"{layer}.")
            for index, layer in ((0, "conv1"), (3, "conv2"), (6, "conv3_1"), (8, "conv3_2"),
                                 (11, "conv4_1"), (13, "conv4_2"))
        ),
    ),
    # Two-phase's visual branches (models/twophase.py) fine-tune Keras' ImageNet
    # InceptionV3 and ConvNeXtTiny; these are torchvision's files of the same networks,
    # whose keys are our torchvision models' keys. InceptionV3: Google's weights, ported;
    # the auxiliary classifier (`AuxLogits`) and `fc` are ImageNet heads we do not build.
    "inception_v3": KnownWeights(
        url="https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth",
        sha256="0cc3c7bd",
        head_prefixes=("fc.", "AuxLogits."),
        description="Inception-v3, ImageNet (torchvision IMAGENET1K_V1, ported from TF)",
    ),
    # ConvNeXt-T: `classifier.0` is the LayerNorm after pooling, which we keep (Keras'
    # include_top=False model ends in it too); `classifier.2` is the ImageNet Linear.
    "convnext_tiny": KnownWeights(
        url="https://download.pytorch.org/models/convnext_tiny-983f1562.pth",
        sha256="983f1562",
        head_prefixes=("classifier.2.",),
        description="ConvNeXt-Tiny, ImageNet (torchvision IMAGENET1K_V1)",
    ),
}

# Prefixes added by training wrappers: nn.DataParallel (`module.`), tsn-pytorch
# (`module.base_model.`), mmaction recognisers (`backbone.`). Longest first.
WRAPPER_PREFIXES = ("module.base_model.", "base_model.", "module.", "backbone.")


def known_weights(name: str) -> KnownWeights:
    try:
        return KNOWN_WEIGHTS[name]
    except KeyError:
        known = ", ".join(sorted(KNOWN_WEIGHTS))
        raise WeightsError(f"no known weights for backbone {name!r}; known: {known}") from None


def file_name_from_url(url: str) -> str:
    """The file name a URL downloads to: its last path segment, without the query."""
    name = Path(urlparse(url).path).name
    if not name:
        raise WeightsError(f"cannot derive a file name from the URL {url!r}")
    return name


def fetch_weights(
    name: str, cache_dir: Path, url: str | None = None, sha256: str | None = None
) -> Path:
    """Download the weights of backbone `name` into `cache_dir` once; return the file.

    `url` and `sha256` override the registry (e.g. from config); an overriding URL is
    verified only against an explicitly given `sha256`. A file already in the cache that
    verifies is returned without touching the network. Raises DownloadError/ChecksumError
    (from avrepro.data.download); a failed check leaves no file in the cache.
    """
    known = known_weights(name)
    if url is None:
        url, sha256 = known.url, sha256 or known.sha256
    dest = Path(cache_dir) / file_name_from_url(url)
    return download_file(url, dest, sha256=sha256)


def weights_path(name: str, cache_dir: Path, url: str | None = None) -> Path:
    """Where the weights of `name` lie in `cache_dir`; never downloads (jobs are offline)."""
    file_name = file_name_from_url(url or known_weights(name).url)
    path = Path(cache_dir) / file_name
    if not path.is_file():
        raise WeightsError(
            f"pretrained weights for {name!r} are missing: {path} does not exist. Compute "
            "jobs do not download; run the workflow's weight-download rule first (it runs "
            "on the submitting machine), or place the file there yourself."
        )
    return path


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a .pth/.pt/.safetensors file, unwrapped from a training checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            loaded = load_file(path)
        elif path.suffix in (".pth", ".pt"):
            # weights_only: a weights file must not be able to run code when unpickled.
            loaded = torch.load(path, map_location="cpu", weights_only=True)
        else:
            raise WeightsError(f"{path}: expected a .pth, .pt or .safetensors file")
    except WeightsError:
        raise
    except Exception as error:
        raise WeightsError(f"cannot read weights file {path}: {error}") from error
    # Training checkpoints wrap the weights (TSN/TSM/mmaction: "state_dict"; others "model").
    for wrapper in ("state_dict", "model"):
        if isinstance(loaded, dict) and isinstance(loaded.get(wrapper), dict):
            loaded = loaded[wrapper]
    if not isinstance(loaded, dict) or not all(
        isinstance(v, torch.Tensor) for v in loaded.values()
    ):
        raise WeightsError(f"{path} holds no state dict (a mapping of names to tensors)")
    return dict(loaded)


def to_backbone_state_dict(name: str, state_dict: dict[str, torch.Tensor]) -> dict:
    """Map a published state dict of backbone `name` onto our feature extractor's keys.

    Strips training-wrapper prefixes, drops the classifier and applies the registered
    renames (see the notes in KNOWN_WEIGHTS); other keys already have our model's names.
    """
    known = known_weights(name)
    trunk = {}
    for key, tensor in state_dict.items():
        key = next((key[len(p) :] for p in WRAPPER_PREFIXES if key.startswith(p)), key)
        if key.startswith(known.head_prefixes):
            continue
        for pattern, replacement in known.renames:
            key = re.sub(pattern, replacement, key)
        trunk[key] = tensor
    return trunk


def load_state_dict_strict(
    model: nn.Module,
    state_dict: dict[str, torch.Tensor],
    source: str,
    allow_missing: set[str] | frozenset[str] = frozenset(),
) -> None:
    """Load every key of `model` (except `allow_missing`) from `state_dict`, and no others.

    Raises WeightsMismatchError naming `source` (e.g. the file) with the missing,
    unexpected and wrongly shaped keys; the model is left untouched then.
    """
    own = model.state_dict()
    # Files saved by old PyTorch (the Caffe ports) lack BatchNorm's batch counter, which
    # only matters for training; the model keeps its own.
    optional = set(allow_missing) | {k for k in own if k.endswith(".num_batches_tracked")}
    missing = [k for k in own if k not in state_dict and k not in optional]
    unexpected = [k for k in state_dict if k not in own]
    wrong_shape = [
        f"{k} {tuple(v.shape)} (model: {tuple(own[k].shape)})"
        for k, v in state_dict.items()
        if k in own and v.shape != own[k].shape
    ]
    if missing or unexpected or wrong_shape:
        raise WeightsMismatchError(source, missing, unexpected, wrong_shape)
    model.load_state_dict(state_dict, strict=False)


def _preview(keys: list[str], limit: int = 8) -> str:
    if not keys:
        return "none"
    shown = ", ".join(keys[:limit])
    return f"({len(keys)}) {shown}" + (", ..." if len(keys) > limit else "")
