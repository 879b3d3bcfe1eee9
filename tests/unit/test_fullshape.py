"""The full-shape tier is config.yaml with only its data, weights, seeds and epoch cap
changed, so that it cannot drift from the real recipe; `extends` and `epoch_cap` work as
the config module says."""

from pathlib import Path

import pytest
import yaml

from avrepro.config import ConfigError, cap_epochs, merge, resolve, validate_config

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
FULLSHAPE = REPO / "tests" / "fullshape"
# What the full-shape tier may set differently from config.yaml (its header says why).
ALLOWED = {"extends", "seeds", "seeds_per_job", "epoch_cap", "backbones.pretrained"}
ALLOWED_PREFIXES = ("raw.",)
ALLOWED_DATASET_KEYS = {"classes", "n_shards"}


def leaves(config: dict, prefix: str = "") -> dict[str, object]:
    """Every key path of a config down to its non-mapping values."""
    out = {}
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out |= leaves(value, f"{path}.")
        else:
            out[path] = value
    return out


def allowed(path: str) -> bool:
    parts = path.split(".")
    return (path in ALLOWED or path.startswith(ALLOWED_PREFIXES)
            or (parts[0] == "datasets" and len(parts) == 3 and parts[2] in ALLOWED_DATASET_KEYS))


def test_the_full_shape_tier_changes_only_data_weights_seeds_and_epochs():
    overrides = yaml.safe_load((FULLSHAPE / "config.yaml").read_text())
    assert overrides["extends"] == "../../config.yaml"
    changed = [path for path in leaves(overrides) if not allowed(path)]
    assert not changed, f"the full-shape tier must not change {changed}"


def test_every_other_key_equals_the_full_tiers():
    full = yaml.safe_load((REPO / "config.yaml").read_text())
    shaped = resolve(yaml.safe_load((FULLSHAPE / "config.yaml").read_text()), FULLSHAPE)
    validate_config(shaped, SCHEMA)
    differing = {p for p, v in leaves(shaped).items() if leaves(full).get(p, object()) != v}
    assert differing and all(allowed(p) for p in differing), sorted(differing)
    assert set(leaves(full)) <= set(leaves(shaped))  # nothing of the recipe is dropped


def test_the_epoch_cap_shortens_every_schedule_and_nothing_else():
    shaped = resolve(yaml.safe_load((FULLSHAPE / "config.yaml").read_text()), FULLSHAPE)
    capped = cap_epochs(shaped)
    epochs = {p: v for p, v in leaves(capped).items() if p.endswith(".epochs")}
    assert len(epochs) > 5 and set(epochs.values()) == {1}
    assert {p: v for p, v in leaves(capped).items() if not p.endswith(".epochs")} == {
        p: v for p, v in leaves(shaped).items() if not p.endswith(".epochs")}
    assert cap_epochs({"epoch_cap": None, "a": {"epochs": 9}}) == {"epoch_cap": None,
                                                                   "a": {"epochs": 9}}


def test_extends_merges_mappings_and_replaces_other_values(tmp_path):
    (tmp_path / "base.yaml").write_text("a: {x: 1, y: [1, 2]}\nb: 2\n")
    config = resolve({"extends": "base.yaml", "a": {"y": [3]}, "c": 4}, tmp_path)
    assert config == {"a": {"x": 1, "y": [3]}, "b": 2, "c": 4}
    assert merge({"a": {"x": 1}}, {"a": 5}) == {"a": 5}
    with pytest.raises(ConfigError, match="'extends': .*nowhere.yaml is not a file"):
        resolve({"extends": "nowhere.yaml"}, tmp_path)
