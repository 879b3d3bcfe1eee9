"""The two-phase paper's variants (see avrepro.naming):

  aud_spec-{gam,mel,cqt}              phase I, Aud-GAM / Aud-MEL / Aud-CQT
  vis_bb-{inceptionv3,convnexttiny}   phase I, Vis-INC / Vis-CONV
  fusion_fn-{f1..f6}_mod-{a,v,av}     phase II: fusion fn over the audio (a), visual (v) or
                                      all five (av) frozen branches' embeddings

Table I is fusion_fn-f{1..6}_mod-av; Table II's audio, visual and audio-visual rows are
fusion_fn-f4_mod-{a,v,av} ("the proposed systems using f4 fusion of only audio data, of
only visual data, of both", §III-C). The fusion function fixes the embedding: f1-f3 fuse
FC(1024), f4-f6 FC(10) outputs (§II-B), so the name carries no separate embedding key.
A fusion run reads each of its branches' run folder (same dataset and seed).
"""

from dataclasses import dataclass

from avrepro.naming import format_variant, parse_variant

# Eq. 1's order of the embeddings: ae_g, ae_m, ae_c, then ve_i, ve_c.
SPECTROGRAMS = ("gam", "mel", "cqt")
BACKBONES = {"inceptionv3": "inception_v3", "convnexttiny": "convnext_tiny"}  # code -> name
MODALITIES = ("a", "v", "av")
# name -> (equation, embedding it fuses); the equations are models.twophase.Fusion's.
FUSIONS = {
    "f1": ("sum", "fc1024"), "f2": ("weighted", "fc1024"), "f3": ("concat", "fc1024"),
    "f4": ("sum", "fc10"), "f5": ("weighted", "fc10"), "f6": ("concat", "fc10"),
}
# The embedding stores a branch run writes into its folder.
EMBEDDING_FILES = {"fc1024": "emb-fc1024.npz", "fc10": "emb-fc10.npz"}


@dataclass(frozen=True)
class Variant:
    model: str  # "aud", "vis" or "fusion"
    spectrogram: str | None = None  # aud: gam, mel, cqt
    backbone: str | None = None  # vis: inception_v3, convnext_tiny
    fusion: str | None = None  # fusion: f1 ... f6
    modality: str | None = None  # fusion: a, v, av


def parse(variant: str) -> Variant:
    model, opts = parse_variant(variant)
    expected = {"aud": {"spec"}, "vis": {"bb"}, "fusion": {"fn", "mod"}}.get(model)
    if expected is None or set(opts) != expected:
        raise ValueError(f"{variant!r} is not a two-phase variant: aud_spec-S, vis_bb-B "
                         "or fusion_fn-F_mod-M")
    if model == "aud" and opts["spec"] in SPECTROGRAMS:
        return Variant("aud", spectrogram=opts["spec"])
    if model == "vis" and opts["bb"] in BACKBONES:
        return Variant("vis", backbone=BACKBONES[opts["bb"]])
    if model == "fusion" and opts["fn"] in FUSIONS and opts["mod"] in MODALITIES:
        return Variant("fusion", fusion=opts["fn"], modality=opts["mod"])
    raise ValueError(f"variant {variant!r}: unknown value; spectrograms {SPECTROGRAMS}, "
                     f"backbones {sorted(BACKBONES)}, fusions {sorted(FUSIONS)}, "
                     f"modalities {MODALITIES}")


def audio_branches() -> list[str]:
    return [format_variant("aud", spec=s) for s in SPECTROGRAMS]


def visual_branches() -> list[str]:
    return [format_variant("vis", bb=b) for b in BACKBONES]


def fusion_branches(variant: str) -> list[str]:
    """The phase-I runs whose embeddings a fusion variant reads, in Eq. 1's order."""
    modality = parse(variant).modality
    if modality is None:
        raise ValueError(f"{variant!r} is not a fusion variant")
    return ("a" in modality) * audio_branches() + ("v" in modality) * visual_branches()


def embedding_file(variant: str) -> str:
    """The file, in each branch's run folder, that a fusion variant reads."""
    return EMBEDDING_FILES[FUSIONS[parse(variant).fusion][1]]
