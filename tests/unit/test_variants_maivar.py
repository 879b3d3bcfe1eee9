"""MAiVAR's variant names map to the feature stores they read."""

import pytest

from avrepro.variants.maivar import Inputs, backbone_code, backbone_name, variant_inputs

VIDEO = "tsn_bninception-tsn25"


def test_each_model_reads_its_modalities():
    assert variant_inputs("vmlp", VIDEO) == Inputs(audio=None, video=VIDEO)
    assert variant_inputs("amlp_rep-ch_bb-irv2", VIDEO) == Inputs(audio="irv2-ch", video=None)
    assert variant_inputs("dhf_rep-wp_bb-efficientnetb0", VIDEO) == Inputs(
        audio="efficientnet_b0-wp", video=VIDEO
    )


def test_backbone_codes_round_trip_and_unknown_ones_are_named():
    assert backbone_name(backbone_code("efficientnet_b0")) == "efficientnet_b0"
    with pytest.raises(ValueError, match="unknown backbone code 'vgg16'"):
        backbone_name("vgg16")
    with pytest.raises(ValueError, match="unknown MAiVAR model 'mlp'"):
        variant_inputs("mlp_rep-ch_bb-irv2", VIDEO)

