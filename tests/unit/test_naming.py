import pytest

from avrepro.naming import format_variant, parse_variant, run_dir


def test_variant_round_trip():
    name = format_variant("dhf", rep="ch", bb="irv2")
    assert name == "dhf_rep-ch_bb-irv2"
    assert parse_variant(name) == ("dhf", {"rep": "ch", "bb": "irv2"})
    assert parse_variant("vmlp") == ("vmlp", {})


@pytest.mark.parametrize(
    "bad", ["Dhf", "dhf_rep", "dhf_rep-", "dhf__bb-x", "dhf_bb-efficientnet_b0"]
)
def test_bad_variants_are_refused(bad):
    with pytest.raises(ValueError, match="variant"):
        parse_variant(bad)


def test_run_dir_follows_the_design():
    assert run_dir("maivar", "ucf51", "vmlp", 2) == "results/maivar/ucf51/vmlp/seed2"
