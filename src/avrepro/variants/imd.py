"""Alfasly et al.'s (IMD) variants (see avrepro.naming). One model, `imd`, whose tokens
name what the paper's tables vary:

  mod-{m}     the modalities, "."-joined in the order audio, rgb, flow (Table 3):
              audio | rgb | audio.flow | audio.rgb | rgb.flow | audio.rgb.flow
  fus-{f}     how audio meets the visual stream(s) (Table 5): imd (the relevance network
              and irrelevant modality dropout) | se | nl | concat | avc | gmu (the relevance
              network off); only with audio and a visual modality
  emb-{e}     SAVLD's label embedder (Table 2): bert | glove | word2vec | minilm; with
  dist-{d}    SAVLD's distance (Table 2): euclidean | manhattan | cosine. Both absent: the
              dictionary config.yaml's imd.savld names (the paper's BERT and Euclidean in
              the full tier; the smoke tier, which has no BERT weights, the packaged MiniLM),
              which every row but Table 2's reads
  ov-{o}      the overlap that makes the relevance target (Table 4): iou | dice
  k-{K}       the dictionary's audio labels per video label (Table 4)
  ya-{Y}      AST's top labels per clip (Table 4)
  a-{alpha}   the relevance threshold (Table 4)
  m-{s}       masking scheme (Table 4): mask (M) | weight (W)
  aug-{0|1}   intra-class cross-modality augmentation (IMD*, §3.6)
  size-{b|l}  IMD-B or IMD-L (Table 6)
  init-{i}    the visual streams' initialisation (Table 7): in21k (ImageNet-21k ViT) |
              kinetics400 (the kinetics400 run of the same variant with init-in21k, seed for
              seed: "Kinetics" pre-training)

The SAVLD and relevance tokens appear only where the relevance network is on (fus-imd);
every token appears where it applies, so that one run has one name. canonical() builds the
name from settings; parse() refuses a name that is not canonical.
"""

from dataclasses import dataclass

from avrepro.naming import format_variant, parse_variant

MODEL = "imd"
MODALITIES = ("audio", "rgb", "flow")
MODALITY_SETS = ("audio", "rgb", "audio.flow", "audio.rgb", "rgb.flow", "audio.rgb.flow")
FUSIONS = ("imd", "se", "nl", "concat", "avc", "gmu")
EMBEDDERS = ("bert", "glove", "word2vec", "minilm")
DISTANCES = ("euclidean", "manhattan", "cosine")
OVERLAPS = ("iou", "dice")
SCHEMES = ("mask", "weight")
SIZES = ("b", "l")
INITS = ("in21k", "kinetics400")


@dataclass(frozen=True)
class Relevance:
    """The relevance network's settings: its dictionary and target, threshold and scheme."""

    embedder: str | None = None  # None (with distance None): the configured dictionary
    distance: str | None = None
    overlap: str = "iou"
    k: int = 10
    y_a: int = 20
    alpha: float = 0.25
    scheme: str = "mask"


@dataclass(frozen=True)
class Variant:
    modalities: tuple[str, ...]
    fusion: str | None = None  # None: one modality, or visual streams only
    relevance: Relevance | None = None  # fus-imd only
    augment: bool = False  # IMD*: audio of another clip of the same class
    size: str = "b"
    init: str = "in21k"

    @property
    def has_audio(self) -> bool:
        return "audio" in self.modalities

    @property
    def visual(self) -> tuple[str, ...]:
        return tuple(m for m in self.modalities if m != "audio")

    @property
    def name(self) -> str:
        return canonical(self)


def canonical(v: Variant) -> str:
    options = {"mod": ".".join(v.modalities)}
    if v.fusion is not None:
        options["fus"] = v.fusion
    if v.relevance is not None:
        r = v.relevance
        if r.embedder is not None:
            options.update({"emb": r.embedder, "dist": r.distance})
        options.update({"ov": r.overlap, "k": str(r.k), "ya": str(r.y_a), "a": f"{r.alpha:g}",
                        "m": r.scheme})
    if v.has_audio and v.visual:
        options["aug"] = "1" if v.augment else "0"
    options.update({"size": v.size, "init": v.init})
    return format_variant(MODEL, **options)


def _choice(options: dict, key: str, allowed: tuple[str, ...], name: str) -> str:
    value = options.get(key)
    if value not in allowed:
        raise ValueError(f"variant {name!r}: {key}-{value} is not one of {allowed}")
    return value


def parse(name: str) -> Variant:
    model, options = parse_variant(name)
    if model != MODEL:
        raise ValueError(f"variant {name!r}: IMD's runs are named {MODEL}_..., not {model}")
    modalities = tuple(_choice(options, "mod", MODALITY_SETS, name).split("."))
    bimodal = "audio" in modalities and len(modalities) > 1
    fusion = _choice(options, "fus", FUSIONS, name) if bimodal else None
    relevance = None
    if fusion == "imd":
        named = "emb" in options or "dist" in options
        try:
            relevance = Relevance(
                embedder=_choice(options, "emb", EMBEDDERS, name) if named else None,
                distance=_choice(options, "dist", DISTANCES, name) if named else None,
                overlap=_choice(options, "ov", OVERLAPS, name),
                k=int(options["k"]), y_a=int(options["ya"]), alpha=float(options["a"]),
                scheme=_choice(options, "m", SCHEMES, name))
        except (KeyError, ValueError) as err:
            raise ValueError(f"variant {name!r}: fus-imd needs ov, k, ya, a and m tokens "
                             f"(and emb with dist, or neither) ({err})") from err
    variant = Variant(modalities, fusion, relevance, augment=options.get("aug") == "1",
                      size=_choice(options, "size", SIZES, name),
                      init=_choice(options, "init", INITS, name))
    if canonical(variant) != name:
        raise ValueError(f"variant {name!r} is not canonical: {canonical(variant)!r} names "
                         "the same run")
    return variant


def pretraining_run(variant: Variant) -> str | None:
    """The run whose model initialises this one's visual streams (init-kinetics400): the
    same variant trained from ImageNet-21k weights on Kinetics-400."""
    if variant.init == "in21k":
        return None
    return canonical(Variant(variant.modalities, variant.fusion, variant.relevance,
                             variant.augment, variant.size, "in21k"))
