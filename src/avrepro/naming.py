"""One name grammar for runs, as mmaction2 has for configs and checkpoints.

A variant is `{model}` followed by `_{key}-{value}` tokens, e.g. `vmlp`,
`amlp_rep-ch_bb-irv2`, `dhf_rep-ch_bb-irv2`. Keys and values are lower-case
alphanumerics (values may contain a dot). A run lives in
`results/{paper}/{dataset}/{variant}/seed{seed}/`.
"""

import re

_MODEL = re.compile(r"[a-z0-9]+")
_TOKEN = re.compile(r"([a-z0-9]+)-([a-z0-9.]+)")
VARIANT_PATTERN = r"[a-z0-9]+(_[a-z0-9]+-[a-z0-9.]+)*"


def format_variant(model: str, **options: str) -> str:
    name = "_".join([model, *(f"{k}-{v}" for k, v in options.items())])
    parse_variant(name)  # refuse names that would not parse back
    return name


def parse_variant(name: str) -> tuple[str, dict[str, str]]:
    model, *tokens = name.split("_")
    if not _MODEL.fullmatch(model):
        raise ValueError(f"variant {name!r}: model {model!r} is not lower-case alphanumeric")
    options = {}
    for token in tokens:
        match = _TOKEN.fullmatch(token)
        if not match:
            raise ValueError(f"variant {name!r}: token {token!r} is not key-value")
        options[match[1]] = match[2]
    return model, options


def run_dir(paper: str, dataset: str, variant: str, seed: int) -> str:
    return f"results/{paper}/{dataset}/{variant}/seed{seed}"
