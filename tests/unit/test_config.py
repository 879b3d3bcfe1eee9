"""Both tiers' configs validate; a wrong key or type is reported by its path."""

import json
from pathlib import Path

import pytest
import yaml

from avrepro.config import ConfigError, validate_config

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def load(path):
    return yaml.safe_load((REPO / path).read_text())


@pytest.mark.parametrize("path", ["config.yaml", "tests/smoke/config.yaml"])
def test_tier_configs_are_valid(path):
    validate_config(load(path), SCHEMA)


def test_unknown_key_is_named():
    config = load("config.yaml")
    config["maivar"]["dhf"]["learning_rate"] = 1e-3
    with pytest.raises(ConfigError, match=r"under 'maivar\.dhf'.*'learning_rate' was unexpected"):
        validate_config(config, SCHEMA)


def test_wrong_type_is_named():
    config = load("config.yaml")
    config["datasets"]["ucf51"]["n_shards"] = "sixteen"
    with pytest.raises(ConfigError, match=r"'datasets\.ucf51\.n_shards'.*not of type 'integer'"):
        validate_config(config, SCHEMA)


def test_a_frame_spec_lacking_its_samplers_key_is_named():
    config = load("config.yaml")
    config["frames"]["fps2"] = {"sampler": "fps", "fps": 2, "size": 224}
    with pytest.raises(ConfigError, match=r"'frames\.fps2'.*'seconds' is a required property"):
        validate_config(config, SCHEMA)


def test_ucf51_classes_are_the_published_list(fixtures_dir):
    published = json.loads((fixtures_dir / "labels" / "ucf51_annotation.json").read_text())
    ours = load("config.yaml")["datasets"]["ucf51"]["classes"]
    # The annotation spells the folder HandstandPushups as its files do (HandStandPushups).
    assert sorted(c.lower() for c in ours) == sorted(c.lower() for c in published["labels"])
    class_ind = (fixtures_dir / "labels" / "ucf101_classInd.txt").read_text().split()[1::2]
    assert set(ours) <= set(class_ind)  # spelled as the UCF-101 folders are


def test_kinetics_sounds_classes_are_the_27_of_maivar(fixtures_dir):
    listed = {
        line.split("/")[0]
        for name in ("ks27_train.txt", "ks27_val.txt")
        for line in (fixtures_dir / "labels" / name).read_text().splitlines()
    }
    ours = load("config.yaml")["datasets"]["kinetics_sounds"]["classes"]
    assert len(ours) == 27
    assert set(ours) == listed
    k400 = set((fixtures_dir / "labels" / "k400_labels.txt").read_text().splitlines())
    assert set(ours) <= k400


def test_smoke_classes_are_subsets_of_the_full_tier():
    full, smoke = load("config.yaml")["datasets"], load("tests/smoke/config.yaml")["datasets"]
    for name, dataset in smoke.items():
        assert set(dataset["classes"]) <= set(full[name]["classes"]), name
