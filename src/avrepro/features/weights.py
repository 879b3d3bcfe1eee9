"""Pretrained weights: fetching the published file of each network (registry.KNOWN_WEIGHTS)
once, and loading it.

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
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from avrepro.data.download import download_file
from avrepro.features.registry import WeightsError, file_name_from_url, known_weights


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


# Prefixes added by training wrappers: nn.DataParallel (`module.`), tsn-pytorch
# (`module.base_model.`), mmaction recognisers (`backbone.`). Longest first.
WRAPPER_PREFIXES = ("module.base_model.", "base_model.", "module.", "backbone.")


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
    file_name = known.file_name if url is None else file_name_from_url(url)
    if url is None:
        url, sha256 = known.url, sha256 or known.sha256
    return download_file(url, Path(cache_dir) / file_name, sha256=sha256)


def weights_path(name: str, cache_dir: Path, url: str | None = None) -> Path:
    """Where the weights of `name` lie in `cache_dir`; never downloads (jobs are offline)."""
    file_name = file_name_from_url(url) if url else known_weights(name).file_name
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


def frozen_network(
    name: str, make: Callable[[], nn.Module], weights: Path | None, seed: int
) -> nn.Module:
    """A frozen network in eval mode: `make()` under `seed` (random weights, the smoke
    tier; the caller's random state is left as it was), then filled from the local
    weights file of network `name` when one is given (never the network). Raises
    WeightsError naming a file that is unreadable or does not fit."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = make()
    if weights is not None:
        state_dict = to_backbone_state_dict(name, read_state_dict(weights))
        load_state_dict_strict(model, state_dict, source=f"weights file {weights}")
    model.requires_grad_(False)
    return model.eval()
