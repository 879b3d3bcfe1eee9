"""Validate the workflow configuration against its JSON schema.

Snakemake's own `validate` reports a failing value but not always where it sits in a
nested config; a wrong key deep in `maivar.dhf` should say `maivar.dhf.lr`.
"""

from pathlib import Path

import jsonschema
import yaml

from avrepro.data.local import LAYOUTS, layout_errors


class ConfigError(ValueError):
    pass


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
