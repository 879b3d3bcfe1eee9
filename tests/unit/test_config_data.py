"""The config schema's `raw:` and `datasets:` sections: synthetic stand-ins of AVE and
DCASE, and each raw dataset's own splits."""

import copy
from pathlib import Path

import pytest
import yaml

from avrepro.config import ConfigError, validate_config

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
SYNTHETIC = {
    "seed": 0,
    "pairs": [{"classes": ["Church bell", "Clock"], "share": "picture"}],
    "clips_per_class": {"train": 4, "val": 2, "test": 2},
    "duration": 2.0,
    "fps": 10,
    "size": [32, 24],
    "audio_rate": 48000,
}


def smoke_config() -> dict:
    config = yaml.safe_load((REPO / "tests/smoke/config.yaml").read_text())
    config["raw"]["ave"] = {"acquire": "synthetic", "synthetic": copy.deepcopy(SYNTHETIC)}
    dcase = {**copy.deepcopy(SYNTHETIC), "clips_per_class": {"train": 4, "test": 2}}
    dcase["pairs"] = [{"classes": ["park", "tram"], "share": "sound"}]
    config["raw"]["dcase2021"] = {"acquire": "synthetic", "synthetic": dcase}
    return config


def test_synthetic_ave_and_dcase_validate() -> None:
    validate_config(smoke_config(), SCHEMA)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        # AVE has a val split; UCF101, Kinetics and DCASE have none.
        (
            lambda c: c["raw"]["ave"]["synthetic"]["clips_per_class"].pop("val"),
            r"'raw\.ave\.synthetic\.clips_per_class'.*'val' is a required property",
        ),
        (
            lambda c: c["raw"]["ucf101"]["synthetic"]["clips_per_class"].update(val=2),
            r"under 'raw\.ucf101\.synthetic\.clips_per_class'.*'val' was unexpected",
        ),
        (
            lambda c: c["raw"]["dcase2021"]["synthetic"]["clips_per_class"].update(val=2),
            r"under 'raw\.dcase2021\.synthetic\.clips_per_class'.*'val' was unexpected",
        ),
        (
            lambda c: c["raw"]["ave"]["synthetic"].update(cities=3),
            r"under 'raw\.ave\.synthetic'.*'cities' was unexpected",
        ),
        (
            lambda c: c["raw"]["dcase2021"].pop("synthetic"),
            r"'raw\.dcase2021'.*'synthetic' is a required property",
        ),
        (
            lambda c: c["raw"]["ave"].update(acquire="download"),
            r"'raw\.ave'.*'archive' is a required property",
        ),
    ],
)
def test_bad_data_settings_are_named(edit, message) -> None:
    config = smoke_config()
    edit(config)
    with pytest.raises(ConfigError, match=message):
        validate_config(config, SCHEMA)


def test_a_kinetics_val_split_is_accepted() -> None:
    config = smoke_config()
    config["datasets"]["kinetics_sounds"]["splits"]["val"] = "val"
    validate_config(config, SCHEMA)
