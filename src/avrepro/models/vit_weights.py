"""ImageNet-21k ViT weights into IMD's two visual streams (§3.2, §4.1: "IN-21K"), the way
TimeSformer (facebookresearch/TimeSformer, timesformer/models/helpers.py, load_pretrained)
starts its divided space-time model from an image ViT:

- every block's LN, attention and MLP come from the ViT block of the same index; a divided
  space-time block's spatial attention is the ViT block's attention;
- its temporal attention (and the LN before it) start as copies of that same block's
  attention and LN, as TimeSformer copies `attn` into `temporal_attn` and `norm1` into
  `temporal_norm1`; the temporal linear layer (LR, `temporal_fc`) stays at zero and the
  temporal embedding at zero, so the loaded stream first computes the image ViT per frame;
- the spatial positional embedding is resampled (bicubic, timm's resample_abs_pos_embed)
  when the model's patch grid differs from the file's;
- the flow stream's patch embedding (2 input channels) is the RGB one averaged over its 3
  channels and replicated (TSN's cross-modality initialisation, Wang et al. 2016, §3.2);
- the file's ImageNet-21k classifier (`head.*`) is dropped.

The file is timm's state dict (keys cls_token, pos_embed, patch_embed.proj.*, blocks.{i}.*,
norm.*, head.*), e.g. timm/vit_base_patch16_224.augreg_in21k's model.safetensors; the
streams use the same names, so no renames are needed.
"""

from pathlib import Path

import torch

from avrepro.features.weights import load_state_dict_strict, read_state_dict
from avrepro.models.imd import IMDNet, VideoViT
from avrepro.models.tsn import cross_modality

# Registry names of the ImageNet-21k files per model size (features/registry.py, KNOWN_WEIGHTS).
VIT_WEIGHTS = {"B": "vit_b16_in21k", "L": "vit_l16_in21k"}
DROPPED_PREFIXES = ("head.",)  # the ImageNet-21k classifier
# Copied from the block's spatial counterpart (TimeSformer): temporal name -> spatial name.
TEMPORAL_COPIES = {".temporal_attn.": ".attn.", ".temporal_norm1.": ".norm1."}


def new_keys(stream: VideoViT) -> set[str]:
    """The stream's keys no ViT file holds or seeds: its temporal embedding and LR layers."""
    return {k for k in stream.state_dict() if k == "time_embed" or ".temporal_fc." in k}


def stream_state_dict(vit: dict[str, torch.Tensor], stream: VideoViT) -> dict[str, torch.Tensor]:
    """A timm ViT state dict as `stream`'s state dict, all keys but `new_keys(stream)`.
    File keys the stream lacks (deeper file, other layout) stay in, so loading reports them."""
    own = stream.state_dict()
    mapped = {}
    for key, tensor in vit.items():
        if key.startswith(DROPPED_PREFIXES):
            continue
        if key == "pos_embed" and tensor.shape != own[key].shape:
            from timm.layers import resample_abs_pos_embed  # timm's import costs seconds

            grid = int((own[key].shape[1] - 1) ** 0.5)
            tensor = resample_abs_pos_embed(tensor, [grid, grid], num_prefix_tokens=1)
        elif key == "patch_embed.proj.weight" and tensor.shape[1] != own[key].shape[1]:
            tensor = cross_modality(tensor, own[key].shape[1])
        mapped[key] = tensor
    for key in own:
        for temporal, spatial in TEMPORAL_COPIES.items():
            source = key.replace(temporal, spatial)
            if temporal in key and source in vit:
                mapped[key] = vit[source].clone()
    return mapped


def load_vit_weights(model: IMDNet, vit: dict[str, torch.Tensor], source: str) -> None:
    """Fill every visual stream of `model` from one ViT state dict. Everything else (temporal
    embedding and LR, the fusion layers, audio bottleneck, IMD, head) keeps its init.
    Raises WeightsMismatchError naming `source` when a file key is left over (other than the
    classifier), a stream key is not filled, or a shape disagrees."""
    for stream in model.streams.values():
        load_state_dict_strict(stream, stream_state_dict(vit, stream), source=source,
                               allow_missing=new_keys(stream))


def load_vit_file(model: IMDNet, path: Path) -> None:
    """`load_vit_weights` from a local .safetensors/.pth file (never the network)."""
    load_vit_weights(model, read_state_dict(path), source=f"weights file {path}")
