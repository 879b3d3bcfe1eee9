"""Two-phase variant names (Pham et al., §II-B, §III-C): what each run is and reads."""

import subprocess
import sys

import pytest

from avrepro.variants.twophase import (
    Variant,
    audio_branches,
    embedding_file,
    fusion_branches,
    parse,
    visual_branches,
)


def test_variant_names_follow_the_grammar_and_name_their_branches():
    assert audio_branches() == ["aud_spec-gam", "aud_spec-mel", "aud_spec-cqt"]
    assert visual_branches() == ["vis_bb-inceptionv3", "vis_bb-convnexttiny"]
    assert parse("vis_bb-convnexttiny").backbone == "convnext_tiny"
    assert parse("fusion_fn-f5_mod-av") == Variant("fusion", fusion="f5", modality="av")
    # Eq. 1's order: ae_g, ae_m, ae_c, ve_i, ve_c.
    assert fusion_branches("fusion_fn-f4_mod-av") == audio_branches() + visual_branches()
    assert fusion_branches("fusion_fn-f4_mod-a") == audio_branches()
    assert fusion_branches("fusion_fn-f4_mod-v") == visual_branches()
    # f1-f3 fuse FC(1024) embeddings, f4-f6 FC(10) ones (§II-B).
    assert [embedding_file(f"fusion_fn-f{i}_mod-av") for i in (1, 3, 4, 6)] == [
        "emb-fc1024.npz", "emb-fc1024.npz", "emb-fc10.npz", "emb-fc10.npz"]


@pytest.mark.parametrize("bad", ["aud_spec-stft", "fusion_fn-f7_mod-av", "fusion_fn-f4",
                                 "fusion_fn-f4_mod-x", "vis_bb-resnet50", "dhf_rep-ch_bb-irv2",
                                 "vis_bb-inception_v3"])
def test_bad_variants_are_refused(bad):
    with pytest.raises(ValueError):
        parse(bad)


def test_fusion_branches_of_a_branch_is_an_error():
    with pytest.raises(ValueError, match="not a fusion"):
        fusion_branches("aud_spec-mel")


def test_variant_names_plan_without_torch():
    """The workflow's input functions use this module while Snakemake plans."""
    code = ("import sys, avrepro.variants.twophase; "
            "print(sorted(m for m in ('torch', 'torchvision') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
