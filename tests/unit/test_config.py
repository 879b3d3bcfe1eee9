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


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["datasets"]["ucf51_split2"].update(clips_from="ucf52"),
         r"'datasets\.ucf51_split2\.clips_from': 'ucf52' is not a dataset"),
        (lambda c: c["datasets"]["ucf51_split2"].update(clips_from="ucf51_split3"),
         r"'ucf51_split3' is not a dataset with clips of its own"),
        (lambda c: c["datasets"]["ucf51_split2"].update(n_shards=3),
         r"'datasets\.ucf51_split2\.n_shards' differs from datasets\.ucf51\.n_shards"),
        (lambda c: c["mafnet"].update(frames="tsn25"),
         r"'mafnet\.frames': 'tsn25' is not a frames spec with sampler 'clips'"),
        (lambda c: c["frames"]["tsn25"].pop("random_views"),
         r"'maivar\.video_snippets' needs random_views in frames\.tsn25"),
    ],
)
def test_references_between_entries_are_checked(edit, message):
    config = load("config.yaml")
    edit(config)
    with pytest.raises(ConfigError, match=message):
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


def test_kinetics_sounds_32_are_kinetics_400_classes(fixtures_dir):
    # MAFnet §4.1: "21945 videos from 32 events categories"; config.yaml says where the
    # names come from.
    classes = load("config.yaml")["datasets"]["kinetics_sounds32"]["classes"]
    assert len(classes) == 32 == len(set(classes))
    k400 = set((fixtures_dir / "labels" / "k400_labels.txt").read_text().splitlines())
    assert set(classes) <= k400, sorted(set(classes) - k400)
    # MAiVAR's 27 (the L3-Net names Kinetics-400 spells alike) are all in it ...
    ks27 = {line.split("/")[0] for name in ("ks27_train.txt", "ks27_val.txt")
            for line in (fixtures_dir / "labels" / name).read_text().splitlines()}
    assert ks27 < set(classes)
    # ... with the four renamed ones and the counterpart of "patting"; never the two
    # L3-Net names Kinetics-400 lacks.
    assert set(classes) - ks27 == {"blowing out candles", "dribbling basketball", "mowing lawn",
                                   "stomping grapes", "petting animal (not cat)"}
    assert not {"typing", "fingerpicking"} & set(classes)


def test_smoke_classes_are_subsets_of_the_full_tier():
    full, smoke = load("config.yaml")["datasets"], load("tests/smoke/config.yaml")["datasets"]
    for name, dataset in smoke.items():
        assert set(dataset["classes"]) <= set(full[name]["classes"]), name
