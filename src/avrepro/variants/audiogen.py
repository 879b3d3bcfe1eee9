"""Lee et al.'s (audio feature generation) variants (see avrepro.naming):

  tsn_mod-{rgb,flow}                 a TSN stream fine-tuned on Moments in Time (Table 4's
                                     RGB and Flow rows); it also writes the per-frame
                                     features every generator reads
  svm_feat-{f}_gen-none              the baseline: 200 linear SVMs on sound feature f
                                     (aenet, vggish), soundless clips counted wrong
  svm_feat-{f}_gen-{a}.{l}.{c}       generator a (lstm, ae) trained with reconstruction loss
                                     l (l2, kl), with (cls) or without (nocls) its
                                     classification branch, fills in f for every soundless
                                     clip; then the SVMs (Tables 2 and 3)
  late_vis-{v}_snd-{s}               late fusion: TSN stream(s) v (rgb, flow, both) plus
                                     the sound run s, `{f}.{gen}` of an svm variant, or
                                     `none` (Table 4)

A late fusion adds probabilities (§3.2), reading the predictions of the runs it names
(same dataset and seed); it trains nothing.
"""

from dataclasses import dataclass

from avrepro.naming import format_variant, parse_variant

FEATURES = ("aenet", "vggish")
ARCHITECTURES = ("lstm", "ae")
LOSSES = ("l2", "kl")
CLASSIFIER = {"cls": True, "nocls": False}  # with / without the classification branch
STREAMS = ("rgb", "flow")
VISUAL = {"rgb": ("rgb",), "flow": ("flow",), "both": ("rgb", "flow")}
NONE = "none"


@dataclass(frozen=True)
class Generator:
    architecture: str  # lstm | ae
    loss: str  # l2 | kl
    classifier: bool  # with the classification branch (L = L_cls + L_recon)

    @property
    def code(self) -> str:
        return f"{self.architecture}.{self.loss}.{'cls' if self.classifier else 'nocls'}"


@dataclass(frozen=True)
class Variant:
    model: str  # tsn | svm | late
    stream: str | None = None  # tsn: rgb | flow
    feature: str | None = None  # svm, late: aenet | vggish (late: None without sound)
    generator: Generator | None = None  # svm, late: None for the baseline (real sound only)
    visual: tuple[str, ...] = ()  # late: the TSN streams it adds


def _generator(code: str, variant: str) -> Generator | None:
    if code == NONE:
        return None
    parts = code.split(".")
    if (len(parts) != 3 or parts[0] not in ARCHITECTURES or parts[1] not in LOSSES
            or parts[2] not in CLASSIFIER):
        raise ValueError(f"variant {variant!r}: generator {code!r} is not none or "
                         f"ARCH.LOSS.CLS with ARCH in {ARCHITECTURES}, LOSS in {LOSSES}, "
                         f"CLS in {tuple(CLASSIFIER)}")
    return Generator(parts[0], parts[1], CLASSIFIER[parts[2]])


def parse(variant: str) -> Variant:
    model, opts = parse_variant(variant)
    expected = {"tsn": {"mod"}, "svm": {"feat", "gen"}, "late": {"vis", "snd"}}.get(model)
    if expected is None or set(opts) != expected:
        raise ValueError(f"{variant!r} is not an audio-generation variant: tsn_mod-M, "
                         "svm_feat-F_gen-G or late_vis-V_snd-S")
    if model == "tsn":
        if opts["mod"] not in STREAMS:
            raise ValueError(f"variant {variant!r}: stream must be one of {STREAMS}")
        return Variant("tsn", stream=opts["mod"])
    if model == "svm":
        if opts["feat"] not in FEATURES:
            raise ValueError(f"variant {variant!r}: feature must be one of {FEATURES}")
        return Variant("svm", feature=opts["feat"], generator=_generator(opts["gen"], variant))
    if opts["vis"] not in VISUAL:
        raise ValueError(f"variant {variant!r}: vis must be one of {tuple(VISUAL)}")
    if opts["snd"] == NONE:
        return Variant("late", visual=VISUAL[opts["vis"]])
    feature, _, gen = opts["snd"].partition(".")
    if feature not in FEATURES or not gen:
        raise ValueError(f"variant {variant!r}: snd must be none or FEATURE.GEN with FEATURE "
                         f"in {FEATURES} and GEN as an svm variant's gen")
    return Variant("late", feature=feature, generator=_generator(gen, variant),
                   visual=VISUAL[opts["vis"]])


def tsn_run(stream: str) -> str:
    return format_variant("tsn", mod=stream)


def svm_run(feature: str, generator: Generator | None) -> str:
    return format_variant("svm", feat=feature, gen=generator.code if generator else NONE)


def every_generator() -> list[Generator]:
    """The eight generators of Tables 2 and 3, in the tables' order."""
    return [Generator(a, loss, c) for a in ARCHITECTURES for loss in LOSSES
            for c in (True, False)]


def runs_read(variant: str) -> list[str]:
    """The runs (same dataset and seed) whose files a variant reads: the TSN streams whose
    frame features a generator takes, or the runs a late fusion adds."""
    v = parse(variant)
    if v.model == "svm":
        return [tsn_run(s) for s in STREAMS] if v.generator else []
    if v.model == "late":
        return [tsn_run(s) for s in v.visual] + ([svm_run(v.feature, v.generator)]
                                                 if v.feature else [])
    return []
