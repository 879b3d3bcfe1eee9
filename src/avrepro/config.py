"""Validate the workflow configuration against its JSON schema.

Snakemake's own `validate` reports a failing value but not always where it sits in a
nested config; a wrong key deep in `maivar.dhf` should say `maivar.dhf.lr`.
"""

from pathlib import Path

import jsonschema
import yaml


class ConfigError(ValueError):
    pass


def validate_config(config: dict, schema_path: Path) -> None:
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  {_where(e)}: {e.message}" for e in errors]
        raise ConfigError("invalid configuration:\n" + "\n".join(lines))


def _where(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties":
        # the message names the unexpected key; say where it is
        return f"unknown key under '{path or '<top level>'}'"
    return f"config key '{path or '<top level>'}'"
