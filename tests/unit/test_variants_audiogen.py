import subprocess
import sys

import pytest

from avrepro.variants.audiogen import Generator, every_generator, parse, runs_read, svm_run


def test_the_grammar_names_streams_sound_runs_and_late_fusions():
    assert parse("tsn_mod-flow").stream == "flow"
    baseline = parse("svm_feat-vggish_gen-none")
    assert (baseline.feature, baseline.generator) == ("vggish", None)
    lstm = parse("svm_feat-aenet_gen-lstm.l2.nocls")
    assert lstm.generator == Generator("lstm", "l2", classifier=False)
    late = parse("late_vis-both_snd-aenet.ae.kl.cls")
    assert late.visual == ("rgb", "flow")
    assert (late.feature, late.generator) == ("aenet", Generator("ae", "kl", True))
    assert parse("late_vis-rgb_snd-none").feature is None


def test_eight_generators_per_feature_and_names_round_trip():
    generators = every_generator()
    assert len(set(generators)) == 8
    for g in generators:
        assert parse(svm_run("aenet", g)).generator == g


def test_runs_read_are_the_tsn_streams_and_the_sound_run():
    assert runs_read("svm_feat-aenet_gen-none") == []
    assert runs_read("svm_feat-aenet_gen-ae.l2.cls") == ["tsn_mod-rgb", "tsn_mod-flow"]
    assert runs_read("late_vis-both_snd-vggish.none") == [
        "tsn_mod-rgb", "tsn_mod-flow", "svm_feat-vggish_gen-none"]
    assert runs_read("late_vis-rgb_snd-none") == ["tsn_mod-rgb"]


@pytest.mark.parametrize("bad", [
    "tsn_mod-depth", "svm_feat-mfcc_gen-none", "svm_feat-aenet_gen-lstm.l1.cls",
    "svm_feat-aenet_gen-gan.l2.cls", "svm_feat-aenet", "late_vis-rgb_snd-aenet",
    "late_vis-audio_snd-none", "vmlp",
])
def test_bad_variants_are_refused(bad):
    with pytest.raises(ValueError):
        parse(bad)


def test_variant_names_plan_without_torch():
    code = "import sys, avrepro.variants.audiogen; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
