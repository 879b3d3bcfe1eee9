"""Load and validate the workflow configuration.

A config may `extends: PATH` another (relative to the working directory): it is that
config with these keys laid over it, mappings merged key by key and any other value
(lists too) replaced. The full-shape tier is config.yaml so, with only its data, weights,
seeds and an epoch cap changed (tests/fullshape/config.yaml), so it cannot drift from the
real recipe. `epoch_cap` (null: none) lowers every schedule's `epochs` to at most it.

Snakemake's own `validate` reports a failing value but not always where it sits in a
nested config; a wrong key deep in `maivar.dhf` should say `maivar.dhf.lr`.
"""

from pathlib import Path

import jsonschema
import yaml

from avrepro.data.local import LAYOUTS, layout_errors


class ConfigError(ValueError):
    pass


def resolve(config: dict, workdir: Path) -> dict:
    """The config with its `extends` chain laid in (a config without one: itself)."""
    config = dict(config)
    base = config.pop("extends", None)
    if base is None:
        return config
    path = (Path(workdir) / base).resolve()
    if not path.is_file():
        raise ConfigError(f"config key 'extends': {path} is not a file")
    parent = resolve(yaml.safe_load(path.read_text()), path.parent)
    return merge(parent, config)


def merge(base: dict, over: dict) -> dict:
    """`over` laid over `base`: mappings merged key by key, other values replaced."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def cap_epochs(config: dict) -> dict:
    """The config with every schedule's `epochs` (any mapping holding the key, below
    the top) at most `epoch_cap`; the config itself where the cap is null."""
    cap = config.get("epoch_cap")
    if cap is None:
        return config

    def capped(node):
        if isinstance(node, dict):
            out = {k: capped(v) for k, v in node.items()}
            if isinstance(out.get("epochs"), int):
                out["epochs"] = min(out["epochs"], cap)
            return out
        return [capped(v) for v in node] if isinstance(node, list) else node

    return {k: capped(v) for k, v in config.items()}


def validate_config(config: dict, schema_path: Path) -> None:
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  {_where(e)}: {e.message}" for e in errors]
        raise ConfigError("invalid configuration:\n" + "\n".join(lines))
    _check_references(config)
    _check_local_copies(config)


def _check_references(config: dict) -> None:
    """What a schema cannot say: names that must refer to other entries of the config."""
    datasets, frames = config["datasets"], config["frames"]
    for name, dataset in datasets.items():
        source = dataset.get("clips_from")
        if source is None:
            continue
        if source not in datasets or "clips_from" in datasets[source]:
            raise ConfigError(f"config key 'datasets.{name}.clips_from': {source!r} is not a "
                              "dataset with clips of its own")
        for key in ("raw", "n_shards", "classes"):
            if dataset[key] != datasets[source][key]:
                raise ConfigError(f"config key 'datasets.{name}.{key}' differs from "
                                  f"datasets.{source}.{key}: clips_from needs the same clips")
    for paper, sampler in (("maivar", "tsn"), ("mafnet", "clips"), ("twophase", "fps")):
        spec = config[paper]["frames"]
        if frames.get(spec, {}).get("sampler") != sampler:
            raise ConfigError(f"config key '{paper}.frames': {spec!r} is not a frames spec "
                              f"with sampler {sampler!r}")
    maivar = config["maivar"]
    if maivar["video_snippets"] and not frames[maivar["frames"]].get("random_views"):
        # Said here, not by the first training run that finds no views in the features.
        raise ConfigError(f"config key 'maivar.video_snippets' needs random_views in "
                          f"frames.{maivar['frames']}")


def _check_local_copies(config: dict) -> None:
    """A dataset already on disk (acquire: local) holds its published layout: said before
    any job starts, not after the first jobs ran (paths relative to the working
    directory)."""
    for raw, cfg in config.get("raw", {}).items():
        if cfg.get("acquire") == "local" and raw in LAYOUTS:
            errors = layout_errors(raw, cfg["path"])
            if errors:
                raise ConfigError(f"config key 'raw.{raw}.path': {'; '.join(errors)} (the "
                                  f"layout avrepro.data.local.LAYOUTS names)")


def _where(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties":
        # the message names the unexpected key; say where it is
        return f"unknown key under '{path or '<top level>'}'"
    return f"config key '{path or '<top level>'}'"
