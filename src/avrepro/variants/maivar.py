"""MAiVAR's variants (see avrepro.naming):

  vmlp                      video-only, TSN BN-Inception features (B, 25, 1024)
  amlp_rep-{r}_bb-{b}       audio-only, backbone b on audio-image representation r
  dhf_rep-{r}_bb-{b}        dominant head fusion of both, initialised from vmlp (same seed)
"""

from dataclasses import dataclass

from avrepro.features.registry import BACKBONES
from avrepro.naming import parse_variant


@dataclass(frozen=True)
class Inputs:
    """Which feature stores a variant reads, keyed by modality."""

    audio: str | None  # extractor name, e.g. "irv2-ch"
    video: str | None  # e.g. "tsn_bninception-tsn25"


def variant_inputs(variant: str, video_extractor: str) -> Inputs:
    model, opts = parse_variant(variant)
    audio = f"{backbone_name(opts['bb'])}-{opts['rep']}" if model in ("amlp", "dhf") else None
    video = video_extractor if model in ("vmlp", "dhf") else None
    if model not in ("vmlp", "amlp", "dhf"):
        raise ValueError(f"unknown MAiVAR model {model!r} in variant {variant!r}")
    return Inputs(audio=audio, video=video)


def backbone_name(code: str) -> str:
    """Variant values carry no underscores: `efficientnetb0` names `efficientnet_b0`."""
    for name in BACKBONES:
        if name.replace("_", "") == code:
            return name
    raise ValueError(f"unknown backbone code {code!r}; known: {sorted(BACKBONES)}")


def backbone_code(name: str) -> str:
    return name.replace("_", "")
