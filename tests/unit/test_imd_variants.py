"""IMD's run names (avrepro.variants.imd): one name per run, parsed back to its settings."""

import pytest

from avrepro.variants.imd import Relevance, Variant, canonical, parse, pretraining_run

IMD_STAR = "imd_mod-audio.rgb.flow_fus-imd_ov-iou_k-10_ya-20_a-0.25_m-mask_aug-1_size-b_init-in21k"


def test_the_best_setting_parses_to_its_settings():
    v = parse(IMD_STAR)
    assert v.modalities == ("audio", "rgb", "flow") and v.visual == ("rgb", "flow")
    assert v.fusion == "imd" and v.augment and v.size == "b"
    assert v.relevance == Relevance(None, None, "iou", 10, 20, 0.25, "mask")
    assert canonical(v) == IMD_STAR


@pytest.mark.parametrize("variant", [
    Variant(("audio",)),
    Variant(("rgb", "flow"), size="l"),
    Variant(("audio", "rgb", "flow"), "gmu"),
    Variant(("audio", "flow"), "imd", Relevance("glove", "cosine", "dice", 20, 10, 0.5, "weight")),
    Variant(("audio", "rgb", "flow"), "imd", Relevance(), True, "b", "kinetics400"),
])
def test_names_round_trip(variant):
    assert parse(canonical(variant)) == variant


@pytest.mark.parametrize("name, message", [
    ("tsn_mod-rgb", "named imd_"),
    ("imd_mod-video_size-b_init-in21k", "mod-video"),
    ("imd_mod-audio.rgb_fus-imd_aug-0_size-b_init-in21k", "fus-imd needs"),
    ("imd_mod-audio.rgb_fus-concat_size-b_init-in21k_aug-0", "not canonical"),
    ("imd_mod-rgb_fus-gmu_size-b_init-in21k", "not canonical"),  # nothing to fuse audio with
    ("imd_mod-audio.rgb_fus-imd_emb-bert_ov-iou_k-10_ya-20_a-0.25_m-mask_aug-0_size-b_init-in21k",
     "mod-audio.rgb"),  # emb without dist
])
def test_a_name_that_is_not_canonical_is_refused(name, message):
    with pytest.raises(ValueError, match=message):
        parse(name)


def test_kinetics_pretraining_reads_the_same_run_from_imagenet_weights():
    v = parse(IMD_STAR.replace("init-in21k", "init-kinetics400"))
    assert pretraining_run(v) == IMD_STAR
    assert pretraining_run(parse(IMD_STAR)) is None
